"""Telling people: a signed or amended result to the clinic's staff, an urgent case to the radiologists
on duty, each by the channels they chose, each message once, sent by the worker and audited.

`announce_*` run inside the transaction of the change (a signature, a submission): they write one
`Notification` row per person and channel (its unique key makes a second call a no-op) and queue
them after the commit. The worker sends a row once: a compare-and-set on its attempt count claims it,
"sent" is written with its audit row; a failure is retried with backoff, then marked failed.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from cxrsite.language import language_of

from .. import queue
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Case, Notification, Review
from .channels import CHANNELS, Message
from .selectors import chosen_channels, radiologists_on_duty, staff_of

log = logging.getLogger(__name__)

Reason = Notification.Reason
Status = Notification.Status


def announce_result(*, case: Case, review: Review) -> int:
    """The clinic's staff who chose a channel hear that a result was signed (or amended): once per review."""
    reason = Reason.RESULT_AMENDED if review.amends_id else Reason.RESULT_SIGNED
    return _announce(case=case, reason=reason, subject=f"review-{review.pk}", users=staff_of(case))


def announce_urgent_case(*, case: Case) -> int:
    """The clinic's radiologists on duty hear that an urgent case arrived: once per case."""
    return _announce(case=case, reason=Reason.URGENT_CASE, subject=f"case-{case.pk}", users=radiologists_on_duty(case))


def _announce(*, case: Case, reason: str, subject: str, users) -> int:
    made = 0
    for user in users:
        for channel in chosen_channels(user):
            if not CHANNELS[channel].address_of(user):
                continue  # chose SMS but gave no number: nothing to send to
            notification, created = Notification.objects.get_or_create(
                key=f"{reason}:{subject}:{user.pk}:{channel}",
                defaults={"user": user, "channel": channel, "reason": reason, "case": case})
            if created:
                made += 1
                transaction.on_commit(lambda pk=notification.pk: publish(pk), robust=True)
    return made


def publish(notification_id: int) -> bool:
    return queue.publish(queue.SEND_NOTIFICATION_TASK, notification_id)


# One whole subject for each reason (never a translated clause put into a sentence).
SUBJECTS = {Reason.RESULT_SIGNED: gettext_noop("CXR Triage: a radiologist signed the result of a case at %(clinic)s"),
            Reason.RESULT_AMENDED: gettext_noop("CXR Triage: a radiologist amended the signed result of a case at "
                                                "%(clinic)s"),
            Reason.URGENT_CASE: gettext_noop("CXR Triage: an urgent case arrived at %(clinic)s")}


def message_for(notification: Notification) -> Message:
    """What the person reads, in their own language: the clinic and a link to the case, no patient data."""
    case = notification.case
    link = settings.CXR_SITE_URL + reverse("cases:case_detail", args=[case.public_id])
    with translation.override(language_of(notification.user)):
        subject = gettext(SUBJECTS[notification.reason]) % {"clinic": case.clinic.name}
        return Message(subject=subject, text=gettext("%(subject)s. Open it: %(link)s") % {"subject": subject,
                                                                                          "link": link})


class NotSent(Exception):
    """The channel did not take the message; the task retries it."""


def send_notification(notification_id: int, *, worker_host: str) -> str:
    """Send one notification if nobody has; NotSent to be retried."""
    notification = Notification.objects.select_related("user__notification_choice", "user__profile",
                                                       "case__clinic").get(pk=notification_id)
    if notification.status != Status.WAITING:
        return notification.status
    tried = notification.attempts
    if not Notification.objects.filter(pk=notification.pk, status=Status.WAITING, attempts=tried).update(
            attempts=F("attempts") + 1):
        return "skipped"  # another delivery of the same message has it
    channel = CHANNELS[notification.channel]
    try:
        channel.send(to=channel.address_of(notification.user), message=message_for(notification))
    except Exception as error:  # SMTP, a provider's client: any failure is a try that did not send
        log.warning("Notification %s not sent: %s", notification.pk, type(error).__name__)
        Notification.objects.filter(pk=notification.pk).update(last_error=type(error).__name__[:200])
        raise NotSent(type(error).__name__) from error
    with transaction.atomic():
        if Notification.objects.filter(pk=notification.pk, status=Status.WAITING).update(
                status=Status.SENT, sent_at=timezone.now(), last_error=""):
            record(AuditEvent.Action.NOTIFICATION_SENT, actor=Actor.worker(worker_host), case=notification.case,
                   details=_details(notification))
    return Status.SENT


def fail_notification(notification_id: int, *, worker_host: str) -> bool:
    notification = Notification.objects.select_related("user", "case__clinic").get(pk=notification_id)
    with transaction.atomic():
        if not Notification.objects.filter(pk=notification_id, status=Status.WAITING).update(status=Status.FAILED):
            return False
        record(AuditEvent.Action.NOTIFICATION_FAILED, actor=Actor.worker(worker_host), case=notification.case,
               details={**_details(notification), "error": notification.last_error})
    return True


def backoff(retries: int) -> int:
    """30 s doubling, at most 10 minutes: well inside the broker's visibility timeout."""
    return min(600, 30 * 2 ** retries)


def requeue_unsent(*, older_than: float) -> int:
    """Publish again the notifications never tried: the broker was down when they were made."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    stale = Notification.objects.filter(status=Status.WAITING, attempts=0, created__lt=cutoff)
    return sum(publish(pk) for pk in stale.values_list("pk", flat=True))


def _details(notification: Notification) -> dict:
    return {"notification": notification.pk, "user": notification.user.get_username(),
            "channel": notification.channel, "reason": notification.reason}
