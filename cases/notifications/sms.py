"""Text messages to people: backends with one method, as Django's email backends have.

The console backend logs each message, the file backend writes one file per message into
CXR_SMS_FILE_PATH (for a clinic trying the product, and for tests). A provider's adapter is a class
with the same `send_messages(messages)`, named by CXR_SMS_BACKEND; it raises on a message it could not send.
"""

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextMessage:
    to: str  # a mobile number, international format
    text: str


class ConsoleBackend:
    def send_messages(self, messages: list[TextMessage]) -> int:
        for message in messages:
            log.info("SMS to %s: %s", message.to, message.text)
        return len(messages)


class FileBackend:
    def send_messages(self, messages: list[TextMessage]) -> int:
        folder = settings.CXR_SMS_FILE_PATH
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for message in messages:
            (folder / f"{uuid.uuid4()}.txt").write_text(f"To: {message.to}\n\n{message.text}\n")
        return len(messages)


def backend():
    return import_string(settings.CXR_SMS_BACKEND)()
