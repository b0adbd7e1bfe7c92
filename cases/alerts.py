"""Mail to the administrators: the one way the product raises an alarm outside its pages.

Every active administrator with an email address gets it (settings.EMAIL_BACKEND: the console in
development, SMTP in production), in their own language (cxrsite.language.language_of): the caller
passes a function that writes the subject and body, called once for each language. What triggered it
is already on a page and in the audit trail, so a mail server that is down costs the mail, never the record.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.utils import translation

from cxrsite.language import language_of

from .roles import ADMIN_GROUP

log = logging.getLogger(__name__)


def mail_administrators(*, message: Callable[[], tuple[str, str]]) -> bool:
    """Send `message()` (subject, body) to every active administrator with an address, each in their own
    language; False when nobody got it."""
    administrators = (User.objects.filter(groups__name=ADMIN_GROUP, is_active=True).exclude(email="")
                      .select_related("profile").distinct())
    by_language = defaultdict(set)
    for administrator in administrators:
        by_language[language_of(administrator)].add(administrator.email)
    if not by_language:
        with translation.override(None):
            log.warning("No administrator has an email address; not mailed: %s", message()[0])
        return False
    sent = False
    for language, recipients in sorted(by_language.items()):
        with translation.override(language):
            subject, body = message()
        try:
            send_mail(subject, body, None, sorted(recipients))
        except OSError:
            log.exception("Could not mail the administrators: %s", subject)
            continue
        sent = True
    return sent
