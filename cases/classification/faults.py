"""Why a classification did not finish: the image itself, the model, or the environment around it.

Faults of the model (a version that does not load on this worker) and of the environment are
worth retrying (the task's backoff, then the reaper); a fault of the image is not. Staff never
see the exception: only a message written for them, and the cause.
"""

from billiard.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_noop

from classifier.artifacts import ModelFileError
from classifier.imaging import ImageRejected

from ..models import Case
from ..queue import BROKER_ERRORS

Cause = Case.FailureCause
# Faults of the model or the environment, not of the image: worth retrying. Checked in this order
# (a broker error can also be an OSError; so can a model file that is not there).
ENVIRONMENT_CAUSES = [
    ((ModelFileError,), Cause.MODEL),
    ((OperationalError, InterfaceError), Cause.DATABASE),
    (BROKER_ERRORS, Cause.BROKER),
    ((MemoryError,), Cause.MEMORY),
    ((SoftTimeLimitExceeded,), Cause.TIME_LIMIT),
    ((OSError,), Cause.STORAGE),
]
# Worth retrying in any task: the database or the broker was briefly unreachable, not the image.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, *BROKER_ERRORS)
# What a failed case says (Case.failure_reason): stored in English, shown translated (cases/words.py).
IMAGE_FAILURE = gettext_noop("The image could not be classified: %(reason)s")
UNREADABLE = gettext_noop("the stored image could not be read as an X-ray.")
GAVE_UP_ROUNDS = gettext_noop("Gave up after %(rounds)s rounds of retries: %(cause)s.")
GAVE_UP_ATTEMPTS = gettext_noop("Gave up after %(attempts)s attempts: the worker stopped each time while "
                                "classifying.")
STORED_REASONS = (IMAGE_FAILURE, UNREADABLE, GAVE_UP_ROUNDS, GAVE_UP_ATTEMPTS)


class EnvironmentFault(Exception):
    """Classification was interrupted by the environment; the task retries it with backoff."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def environment_cause(error: BaseException) -> str | None:
    for types, cause in ENVIRONMENT_CAUSES:
        if isinstance(error, types) and not isinstance(error, ImageRejected):
            return cause
    return None
