"""Administrators manage integrations in the admin: a token or webhook secret shown once, tokens revoked, and
the webhook delivery log with every attempt."""

import re

import pytest
from django.urls import reverse

from cases.models import ApiToken, AuditEvent, Integration, WebhookAttempt, WebhookEvent
from tests.factories import integration, make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def emr(clinic):
    return integration("Hillside EMR", clinic, may_submit=True)


def run_action(client, model: str, action: str, pks):
    return client.post(reverse(f"admin:cases_{model}_changelist"),
                       {"action": action, "_selected_action": [str(pk) for pk in pks]})


def test_an_administrator_issues_a_token_that_is_shown_once_and_works(client, administrator, emr):
    client.force_login(administrator)
    page = run_action(client, "integration", "issue_tokens", [emr.pk])
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    token = re.search(r'data-testid="shown-once">(cxr_[^<]+)<', page.content.decode()).group(1)
    client.logout()
    assert client.get(reverse("api:caller"), HTTP_AUTHORIZATION=f"Bearer {token}").json()["name"] == "Hillside EMR"
    client.force_login(administrator)
    stored = ApiToken.objects.get()
    assert token not in client.get(reverse("admin:cases_apitoken_change", args=[stored.pk])).content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_ISSUED)
    assert (event.actor, event.details) == (administrator, {"integration": "Hillside EMR", "token": stored.prefix})


def test_revoking_in_the_admin_refuses_the_token_from_the_next_request(client, administrator, emr):
    from tests.factories import api_token

    token = api_token(emr)
    client.force_login(administrator)
    run_action(client, "apitoken", "revoke_tokens", [ApiToken.objects.get().pk])
    client.logout()
    assert client.get(reverse("api:caller"), HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_REVOKED, actor=administrator).count() == 1


def test_a_webhook_secret_is_shown_once_and_audited_without_it(client, administrator, emr):
    client.force_login(administrator)
    page = run_action(client, "integration", "issue_webhook_secrets", [emr.pk]).content.decode()
    emr.refresh_from_db()
    assert emr.webhook_secret.startswith("whsec_") and emr.webhook_secret in page
    assert emr.webhook_secret not in client.get(reverse("admin:cases_integration_change", args=[emr.pk])
                                                ).content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.WEBHOOK_SECRET_ISSUED)
    assert emr.webhook_secret not in str(event.details)


def test_clinic_staff_cannot_reach_the_integrations_admin(client, staff, emr):
    client.force_login(staff)
    response = run_action(client, "integration", "issue_tokens", [emr.pk])
    assert response.status_code == 302 and ApiToken.objects.count() == 0


def test_the_delivery_log_shows_each_attempt_and_a_failed_event_can_be_sent_again(client, administrator, emr,
                                                                                  clinic, staff, monkeypatch):
    from cases.integrations import webhooks

    monkeypatch.setattr(webhooks, "publish", lambda pk, **options: True)
    event = WebhookEvent.objects.create(integration=emr, event=Integration.Event.SIGNED, case=make_case(clinic, staff),
                                        body="{}", status=WebhookEvent.Status.FAILED, attempts=2)
    for number, code in ((1, 500), (2, 503)):
        WebhookAttempt.objects.create(webhook_event=event, number=number, started=event.created, status_code=code,
                                      error=f"The receiver answered {code}.", duration_ms=12.0)
    client.force_login(administrator)
    page = client.get(reverse("admin:cases_webhookevent_change", args=[event.pk])).content.decode()
    assert "The receiver answered 500." in page and "The receiver answered 503." in page

    run_action(client, "webhookevent", "deliver_again", [event.pk])
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 0)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_REDELIVERED, actor=administrator).count() == 1
