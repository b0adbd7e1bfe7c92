"""Log-in lock-outs: per username and address (django-axes), and per address (password spraying)."""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class UserAndAddressHandler(AxesDatabaseHandler):
    """Axes' database handler that also locks out an address with CXR_ADDRESS_FAILURE_LIMIT failed
    log-ins within the cool-off time, whichever usernames they tried.

    Axes locks out when get_failures() reaches AXES_FAILURE_LIMIT, one limit for all its lockout
    parameters; so for a locked address this reports at least that limit. A successful log-in still
    resets only its own username's failures (AXES_RESET_ON_SUCCESS), so a sprayer cannot clear its
    address's count by logging in to an account of its own between rounds.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        if address_failures(request) >= settings.CXR_ADDRESS_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def address_failures(request) -> int:
    attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address,
                                            attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
