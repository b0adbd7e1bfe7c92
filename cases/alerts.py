"""Mail to the administrators: the one way the product raises an alarm outside its pages.

Every active administrator with an email address gets it (settings.EMAIL_BACKEND: the console in
development, SMTP in production). What triggered it is already on a page and in the audit trail,
so a mail server that is down costs the mail, never the record.
"""

import logging

from django.contrib.auth.models import User
from django.core.mail import send_mail

from .roles import ADMIN_GROUP

log = logging.getLogger(__name__)


def mail_administrators(*, subject: str, body: str) -> bool:
    """Send one message to every active administrator with an address; False when nobody got it."""
    recipients = sorted(set(User.objects.filter(groups__name=ADMIN_GROUP, is_active=True).exclude(email="")
                            .values_list("email", flat=True)))
    if not recipients:
        log.warning("No administrator has an email address; not mailed: %s", subject)
        return False
    try:
        send_mail(subject, body, None, recipients)
    except OSError:
        log.exception("Could not mail the administrators: %s", subject)
        return False
    return True
