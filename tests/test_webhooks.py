"""Webhooks: made in the transaction of the change, for the integrations that want them, delivered by a real
worker to a real HTTP receiver on loopback, retried with backoff until acknowledged, signed so that the
README's check tells a true delivery from a forged or stale one."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cases.audit.actors import Actor
from cases.integrations import selectors, webhooks
from cases.integrations.services import issue_webhook_secret
from cases.models import AuditEvent, Integration, WebhookEvent
from cases.reviews.services import amend_review, sign_review
from cxrsite.testing.stack import running_stack, wait_for
from tests.factories import integration, make_case, predicted_case

README = Path(__file__).resolve().parent.parent / "README.md"
Event = Integration.Event


def documented_check():
    """`signature_is_valid` exactly as the README gives it to receivers."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = next(block for block in blocks if "def signature_is_valid" in block)
    namespace = {}
    exec(source, namespace)  # noqa: S102 (our own README)
    return namespace["signature_is_valid"]


class Receiver:
    """An HTTP server on loopback that answers 500 to the first `failures` posts, then 204."""

    def __init__(self, failures: int):
        self.received: list[tuple[int, dict, bytes]] = []  # (answer, headers, body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = 500 if len(receiver.received) < failures else 204
                receiver.received.append((answer, dict(self.headers), body))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cxr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def receiving(name: str, *clinics, url: str = "http://127.0.0.1:9/none", events=(Event.SIGNED,)) -> Integration:
    made = integration(name, *clinics, receives_webhooks=True, webhook_url=url, webhook_events=list(events))
    issue_webhook_secret(integration=made, actor=Actor.system())
    made.refresh_from_db()
    return made


# --- Which events are made (no network) ---------------------------------------------------------

@pytest.mark.django_db
def test_a_signature_makes_one_event_for_each_integration_of_the_clinic_that_wants_it(
        clinic, other_clinic, staff, radiologist, django_capture_on_commit_callbacks, monkeypatch):
    published = []
    monkeypatch.setattr(webhooks, "publish", lambda pk, **options: published.append(pk))
    wants = receiving("EMR", clinic)
    receiving("Predictions only", clinic, events=(Event.PREDICTED,))
    receiving("Other clinic", other_clinic)
    integration("No webhooks", clinic)
    case, _ = predicted_case(clinic, staff, "covid")
    with django_capture_on_commit_callbacks() as callbacks:
        sign_review(case=case, reviewer=radiologist, finding="normal", note="Clear lungs.")
    assert published == []  # nothing leaves before the commit

    event = WebhookEvent.objects.get()
    assert (event.integration, event.event, event.case, event.status) == (wants, Event.SIGNED, case, "pending")
    body = json.loads(event.body)
    assert body["id"] == str(event.public_id) and body["type"] == "case.signed"
    assert body["data"]["case"]["status"] == "reviewed" and body["data"]["case"]["review"]["finding"] == "normal"
    for callback in callbacks:
        callback()
    assert published == [event.pk]


@pytest.mark.django_db
def test_an_amendment_and_a_failure_make_their_events(clinic, staff, radiologist):
    receiving("EMR", clinic, events=(Event.AMENDED, Event.FAILED))
    case, _ = predicted_case(clinic, staff, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    amend_review(review=review, reviewer=radiologist, finding="normal", note="Second look.", reason="Misread.")
    from cases.classification.services import fail_case
    failed = make_case(clinic, staff, mrn="F-1", status="classifying")
    fail_case(failed.pk, source="classifying", reason="The image could not be read.", cause="image",
              actor=Actor.worker("test"))
    assert sorted(WebhookEvent.objects.values_list("event", flat=True)) == [Event.AMENDED, Event.FAILED]
    amended = json.loads(WebhookEvent.objects.get(event=Event.AMENDED).body)["data"]["case"]["review"]
    assert (amended["finding"], amended["amended"]) == ("normal", True)


@pytest.mark.django_db
def test_case_predicted_is_sent_only_where_the_ai_result_may_be_shown(clinic, staff, monkeypatch):
    receiving("EMR", clinic, events=(Event.PREDICTED,))
    case, _ = predicted_case(clinic, staff, "covid")
    monkeypatch.setattr(selectors, "exposed_prediction", lambda case: None)
    assert webhooks.announce(case=case, event=Event.PREDICTED) == []
    monkeypatch.undo()
    made = webhooks.announce(case=case, event=Event.PREDICTED)
    assert len(made) == 1 and json.loads(made[0].body)["data"]["case"]["ai_result"]["label"] == "covid"


# --- The documented check ---------------------------------------------------------------------------

def test_the_documented_check_accepts_our_signature_and_refuses_a_forged_or_stale_one():
    check, secret, body = documented_check(), "whsec_test-secret", b'{"id": "e-1", "type": "case.signed"}'
    now = int(time.time())
    header = webhooks.signature(secret, body, now)
    assert check(secret, header, body)
    assert not check(secret, header, body.replace(b"signed", b"amended"))  # a forged body
    assert not check("whsec_another-secret", header, body)  # not signed with our secret
    assert not check(secret, webhooks.signature(secret, body, now - 3600), body)  # stale: a replay an hour later
    assert not check(secret, header.replace(f"t={now}", f"t={now + 1}"), body)  # a timestamp moved to look fresh
    assert not check(secret, "", body) and not check(secret, "t=abc,v1=00", body)


# --- Delivery by a real worker to a real receiver ---------------------------------------------------

@pytest.fixture(scope="module")
def stack(django_db_setup):
    # Retries after 1 s and 2 s, so three tries fit in a test.
    with running_stack(env={"CXR_WEBHOOK_RETRY_SECONDS": "1", "CXR_WEBHOOK_ATTEMPTS": "4"}) as running:
        yield running


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_twice_gets_the_event_once_acknowledged_signed_with_three_attempts_in_the_log(
        worker_storage, clinic, staff, radiologist):
    with Receiver(failures=2) as receiver:
        emr = receiving("EMR", clinic, url=receiver.url)
        case, _ = predicted_case(clinic, staff, "covid")
        sign_review(case=case, reviewer=radiologist, finding="covid")  # queues the event after its commit

        event = wait_for(lambda: WebhookEvent.objects.filter(status=WebhookEvent.Status.DELIVERED).first(),
                         timeout=60, interval=0.2, what="the webhook to be acknowledged")
        time.sleep(1.5)  # no try after the acknowledgement
    assert [answer for answer, _, _ in receiver.received] == [500, 500, 204]
    assert len({body for _, _, body in receiver.received}) == 1  # the same body every time
    answer, headers, body = receiver.received[-1]
    assert documented_check()(emr.webhook_secret, headers["Cxr-Signature"], body)
    assert headers["Cxr-Event-Id"] == str(event.public_id) == json.loads(body)["id"]
    assert json.loads(body)["data"]["case"]["id"] == str(case.public_id)
    log = list(event.attempt_log.values_list("number", "status_code"))
    assert log == [(1, 500), (2, 500), (3, 204)] and event.attempts == 3
    assert AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_DELIVERED, case=case).count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_acknowledges_leaves_a_failed_event_with_every_attempt_logged(
        worker_storage, clinic, staff, radiologist):
    with Receiver(failures=100) as receiver:
        receiving("EMR", clinic, url=receiver.url)
        case, _ = predicted_case(clinic, staff, "covid")
        sign_review(case=case, reviewer=radiologist, finding="covid")
        event = wait_for(lambda: WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).first(),
                         timeout=60, interval=0.2, what="the webhook to be given up")
    assert len(receiver.received) == event.attempts == event.attempt_log.count() == 4
    assert AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_FAILED, case=case).count() == 1
