"""Webhooks: an event for each integration that wants it, made in the transaction of the change, and
delivered by the worker (never by a request) until the receiver acknowledges it with a 2xx.

Each event's body is fixed when it happens: `{"id", "type", "created", "data": {"case": ...}}`, the
case as the API shows it. Every try signs the body afresh: header `CXR-Signature: t=<unix time>,
v1=<hex HMAC-SHA256 of "<t>." + body, keyed with the integration's secret>`, so a receiver can refuse
a forged body and a stale (replayed) one; the event id lets it drop a second copy.

Delivery: `next_attempt` says when the event may be tried. A try first claims the event by moving
`next_attempt` past its own time-out (a compare-and-set: two messages for one event send once),
then posts, then logs the attempt; a failure sets the next try CXR_WEBHOOK_RETRY_SECONDS later,
doubling up to CXR_WEBHOOK_RETRY_MAX_SECONDS, until CXR_WEBHOOK_ATTEMPTS tries have failed. The
task waits for a near retry itself; beat publishes the far ones, and any due event whose message
was lost (`requeue_due`).
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from .. import queue
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Case, Integration, WebhookAttempt, WebhookEvent
from . import selectors
from .serializers import CaseSerializer

log = logging.getLogger(__name__)

Event = Integration.Event
Status = WebhookEvent.Status
SIGNATURE_HEADER = "CXR-Signature"
USER_AGENT = "CXR-Triage-Webhooks/1"


def announce(*, case: Case, event: str) -> list[WebhookEvent]:
    """Call inside the transaction of the change: one event per integration of the case's clinic that
    takes this event, published after the commit. `case.predicted` only where the AI result may be shown."""
    wanted = [integration for integration in Integration.objects.filter(clinics=case.clinic_id, active=True)
              if integration.wants(event)]
    if not wanted:
        return []
    case = Case.objects.select_related("clinic", "patient").get(pk=case.pk)  # as this transaction left it
    if event == Event.PREDICTED and selectors.exposed_prediction(case) is None:
        return []
    with translation.override(None):  # the body is the API's, in English (integrations/views.py, InEnglish)
        data = {"case": CaseSerializer(case).data}
    made = []
    for integration in wanted:
        webhook_event = WebhookEvent(integration=integration, event=event, case=case, next_attempt=timezone.now())
        webhook_event.body = json.dumps({"id": str(webhook_event.public_id), "type": event,
                                         "created": timezone.now().isoformat(), "data": data}, sort_keys=True)
        webhook_event.save()
        transaction.on_commit(lambda pk=webhook_event.pk: publish(pk), robust=True)
        made.append(webhook_event)
    return made


def publish(event_id: int, *, countdown: float | None = None) -> bool:
    return queue.publish(queue.DELIVER_WEBHOOK_TASK, event_id, countdown=countdown)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The CXR-Signature header's value for this body at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff(attempts: int) -> int:
    """Seconds before the next try, after `attempts` failed ones."""
    return min(settings.CXR_WEBHOOK_RETRY_MAX_SECONDS, settings.CXR_WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1))


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is not an acknowledgement: the event is tried again later


OPENER = urllib.request.build_opener(NoRedirects)


def post(url: str, body: bytes, headers: dict) -> int:
    """POST the body; the response's status (an HTTPError is a status too)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with OPENER.open(request, timeout=settings.CXR_WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def deliver(event_id: int, *, worker_host: str) -> float | None:
    """One try at one event, if it is due and nobody else is trying it.

    Returns the seconds until the next try when this one failed and another is due; None otherwise
    (delivered, failed for good, or not ours to try now).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.CXR_WEBHOOK_TIMEOUT_SECONDS + 30)
    if not WebhookEvent.objects.filter(pk=event_id, status=Status.PENDING, next_attempt__lte=now).update(
            next_attempt=lease, attempts=F("attempts") + 1):
        return None
    webhook_event = WebhookEvent.objects.select_related("integration", "case__clinic").get(pk=event_id)
    integration, number = webhook_event.integration, webhook_event.attempts
    if not (integration.active and integration.receives_webhooks and integration.webhook_url):
        return _give_up(webhook_event, error="The integration no longer takes webhooks.", worker_host=worker_host)
    body = webhook_event.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "CXR-Event-Id": str(webhook_event.public_id), "CXR-Event-Type": webhook_event.event,
               SIGNATURE_HEADER: signature(integration.webhook_secret, body, int(time.time()))}
    started, clock = timezone.now(), time.monotonic()
    status, error = None, ""
    try:
        status = post(integration.webhook_url, body, headers)
        if not 200 <= status < 300:
            error = f"The receiver answered {status}."
    except (OSError, ValueError) as failure:  # refused, unreachable, timed out, a malformed address
        error = f"Not delivered: {type(failure).__name__}."
    WebhookAttempt.objects.create(webhook_event=webhook_event, number=number, started=started, status_code=status,
                                  error=error, duration_ms=(time.monotonic() - clock) * 1000)
    if not error:
        with transaction.atomic():
            if WebhookEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
                    status=Status.DELIVERED, delivered_at=timezone.now(), next_attempt=None, last_error=""):
                record(AuditEvent.Action.WEBHOOK_DELIVERED, actor=Actor.worker(worker_host), case=webhook_event.case,
                       details=_details(webhook_event, number))
        return None
    if number >= settings.CXR_WEBHOOK_ATTEMPTS:
        return _give_up(webhook_event, error=error, worker_host=worker_host)
    wait = backoff(number)
    WebhookEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
        next_attempt=timezone.now() + timedelta(seconds=wait), last_error=error)
    return wait


def _give_up(webhook_event: WebhookEvent, *, error: str, worker_host: str) -> None:
    """After the last try: failed, audited, shown in the admin's delivery log (which can send it again)."""
    with transaction.atomic():
        if WebhookEvent.objects.filter(pk=webhook_event.pk, status=Status.PENDING).update(
                status=Status.FAILED, next_attempt=None, last_error=error[:200]):
            record(AuditEvent.Action.WEBHOOK_FAILED, actor=Actor.worker(worker_host), case=webhook_event.case,
                   details={**_details(webhook_event, webhook_event.attempts), "error": error})
    return None


def redeliver(*, events, actor: Actor) -> int:
    """An administrator sends failed events again (the receiver is fixed): each gets a fresh series of tries."""
    count = 0
    for webhook_event in events.filter(status=Status.FAILED):
        with transaction.atomic():
            if WebhookEvent.objects.filter(pk=webhook_event.pk, status=Status.FAILED).update(
                    status=Status.PENDING, attempts=0, next_attempt=timezone.now()):
                record(AuditEvent.Action.WEBHOOK_REDELIVERED, actor=actor, case=webhook_event.case,
                       details=_details(webhook_event, 0))
                transaction.on_commit(lambda pk=webhook_event.pk: publish(pk), robust=True)
                count += 1
    return count


def requeue_due(*, late_by: float) -> int:
    """Publish the events due for `late_by` seconds that nobody has claimed: their message was lost (a
    restart, the broker down when they were made) or their retry was too far off for the queue to hold."""
    cutoff = timezone.now() - timedelta(seconds=late_by)
    due = WebhookEvent.objects.filter(status=Status.PENDING, next_attempt__lte=cutoff)
    return sum(publish(pk) for pk in due.values_list("pk", flat=True))


def _details(webhook_event: WebhookEvent, attempts: int) -> dict:
    return {"event": str(webhook_event.public_id), "type": webhook_event.event,
            "integration": webhook_event.integration.name, "attempts": attempts}
