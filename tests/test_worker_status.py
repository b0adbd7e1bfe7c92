"""The live status endpoint and the administrators' retry action (no worker needed)."""

import pytest
from django.urls import reverse

from cases.models import AuditEvent, Case
from tests.review_data import make_case

Status = Case.Status


def status_of(client, case):
    return client.get(reverse("cases:case_status", args=[case.public_id]))


def test_staff_see_a_queued_case_waiting_for_the_classifier(client, staff, clinic):
    case = make_case(clinic, staff, status=Status.QUEUED)
    client.force_login(staff)

    state = status_of(client, case).json()

    assert state["status"] == "queued"
    assert state["final"] is False and state["delayed"] is False
    assert "Waiting for the classifier" in state["html"]


def test_staff_are_told_classification_is_delayed_when_the_queue_was_unreachable(client, staff, clinic):
    case = make_case(clinic, staff, status=Status.SUBMITTED)
    client.force_login(staff)

    page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()

    assert "Classification is delayed." in page
    assert status_of(client, case).json()["delayed"] is True


def test_the_status_of_a_failed_case_is_final_and_gives_the_reason(client, staff, clinic):
    case = make_case(clinic, staff, status=Status.FAILED)
    Case.objects.filter(pk=case.pk).update(failure_reason="The image could not be classified: truncated file.")
    client.force_login(staff)

    state = status_of(client, case).json()

    assert state["final"] is True
    assert state["failure_reason"] == "The image could not be classified: truncated file."
    assert "truncated file" in state["html"]
    assert "Retry classification" not in state["html"]


def test_staff_cannot_poll_another_clinics_case(client, staff, other_staff, other_clinic):
    case = make_case(other_clinic, other_staff, status=Status.QUEUED)
    client.force_login(staff)

    assert status_of(client, case).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", case=case, actor=staff).exists()


def test_the_status_endpoint_accepts_only_get(client, staff, clinic):
    case = make_case(clinic, staff, status=Status.QUEUED)
    client.force_login(staff)

    assert client.post(reverse("cases:case_status", args=[case.public_id])).status_code == 405


def test_an_administrator_sends_a_failed_case_back_to_the_queue(client, administrator, staff, clinic):
    case = make_case(clinic, staff, status=Status.FAILED)
    Case.objects.filter(pk=case.pk).update(failure_reason="Gave up after 3 attempts.", attempts=3)
    client.force_login(administrator)
    assert "Retry classification" in status_of(client, case).json()["html"]

    response = client.post(reverse("cases:case_retry", args=[case.public_id]))

    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.failure_reason, case.attempts) == (Status.QUEUED, "", 0)
    assert AuditEvent.objects.get(action="case_retried", case=case).actor == administrator
    change = AuditEvent.objects.get(action="status_changed", case=case)
    assert (change.details["from"], change.details["to"], change.actor) == ("failed", "queued", administrator)


def test_retrying_a_case_that_is_not_failed_changes_nothing(client, administrator, staff, clinic):
    case = make_case(clinic, staff, status=Status.PREDICTED)
    client.force_login(administrator)

    client.post(reverse("cases:case_retry", args=[case.public_id]))

    case.refresh_from_db()
    assert case.status == Status.PREDICTED
    assert not AuditEvent.objects.filter(action="case_retried").exists()


@pytest.mark.parametrize("role", ["staff", "radiologist"])
def test_only_administrators_may_retry(client, request, role, staff, clinic):
    case = make_case(clinic, staff, status=Status.FAILED)
    client.force_login(request.getfixturevalue(role))

    response = client.post(reverse("cases:case_retry", args=[case.public_id]))

    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == Status.FAILED


def test_retry_accepts_only_post(client, administrator, staff, clinic):
    case = make_case(clinic, staff, status=Status.FAILED)
    client.force_login(administrator)

    assert client.get(reverse("cases:case_retry", args=[case.public_id])).status_code == 405
