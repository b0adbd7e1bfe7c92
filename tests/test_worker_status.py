"""The live status endpoint and the administrators' retry action (no worker needed)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import AuditEvent, Case
from tests.factories import make_case

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


def test_a_reaper_holding_a_stale_reading_never_requeues_a_case_a_worker_has_just_claimed(staff, clinic):
    from cases.classification.upkeep import _requeue_classifying

    case = make_case(clinic, staff, status=Status.CLASSIFYING)
    stale = case.status_changed
    Case.objects.filter(pk=case.pk).update(status_changed=timezone.now() + timedelta(seconds=1))  # claimed again
    assert _requeue_classifying(case.pk, 1, stale) == "skipped"
    assert Case.objects.get(pk=case.pk).status == Status.CLASSIFYING


def test_a_case_waiting_in_the_queue_past_the_requeue_period_is_shown_as_delayed(client, staff, clinic, settings):
    case = make_case(clinic, staff, status=Status.QUEUED)
    client.force_login(staff)
    status = client.get(reverse("cases:case_status", args=[case.public_id])).json()
    assert status["delayed"] is False
    Case.objects.filter(pk=case.pk).update(
        status_changed=timezone.now() - timedelta(seconds=settings.CXR_REQUEUE_AFTER_SECONDS + 1))
    status = client.get(reverse("cases:case_status", args=[case.public_id])).json()
    assert status["delayed"] is True
    assert "Classification is delayed." in status["html"]


def test_an_administrator_retries_every_case_that_failed_for_one_cause_in_one_action(client, administrator, staff,
                                                                                     clinic):
    storage_failures = [make_case(clinic, staff, mrn=f"S-{n}", status=Status.FAILED) for n in range(3)]
    image_failure = make_case(clinic, staff, mrn="I-1", status=Status.FAILED)
    Case.objects.filter(pk__in=[c.pk for c in storage_failures]).update(failure_cause=Case.FailureCause.STORAGE)
    Case.objects.filter(pk=image_failure.pk).update(failure_cause=Case.FailureCause.IMAGE)
    client.force_login(administrator)
    changelist = reverse("admin:cases_case_changelist")
    listed = client.get(changelist, {"failure_cause": "storage"}).context["cl"].result_list
    response = client.post(changelist + "?failure_cause=storage", {
        "action": "retry_selected_failed_cases", "_selected_action": [c.pk for c in listed]}, follow=True)
    assert response.status_code == 200
    assert {c.status for c in Case.objects.filter(failure_cause="")} == {Status.QUEUED}
    assert Case.objects.filter(status=Status.QUEUED).count() == 3
    assert Case.objects.get(pk=image_failure.pk).status == Status.FAILED
    assert AuditEvent.objects.filter(action="case_retried", actor=administrator).count() == 3
