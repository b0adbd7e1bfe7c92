"""Logging filters named in settings.LOGGING."""

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """A 403 is a refusal made on purpose (a role check, CSRF): Django logs it with the exception's
    traceback, a screenful per refusal that buries the real errors. The one line stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
