"""Administrators run silent trials from the model admin; every change to a trial is audited."""

import pytest
from django.urls import reverse

from cases.access import RADIOLOGIST_GROUP
from cases.models import AuditEvent
from classifier.models import ModelVersion
from cxrsite.testing.stack import free_port, use_broker
from tests.conftest import make_user
from tests.factories import model_version, predicted_case, served_model_version, trial_predict, trial_version

CHANGELIST = reverse("admin:classifier_modelversion_changelist")


def run_action(client, action: str, *versions):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [v.pk for v in versions]}, follow=True)


def test_an_administrator_puts_versions_on_trial_and_ends_them_and_each_change_is_audited(client, administrator):
    served = served_model_version()
    candidate = model_version("candidate-v2")
    client.force_login(administrator)
    run_action(client, "start_trial", candidate, served)
    assert ModelVersion.objects.get(pk=candidate.pk).on_trial
    assert not ModelVersion.objects.get(pk=served.pk).on_trial  # the served version is never its own trial
    run_action(client, "end_trial", candidate)
    assert not ModelVersion.objects.get(pk=candidate.pk).on_trial
    changes = AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_CHANGED).order_by("time", "id")
    assert [(e.actor, e.details["object"], e.details["changes"]["on_trial"]["after"]) for e in changes] == [
        (administrator, "candidate-v2", True), (administrator, "candidate-v2", False)]


def test_the_trial_sample_and_clinics_are_set_in_the_form_and_audited(client, administrator, clinic):
    candidate = model_version("candidate-v2")
    client.force_login(administrator)
    response = client.post(reverse("admin:classifier_modelversion_change", args=[candidate.pk]),
                           {"on_trial": "on", "trial_sample_percent": "25", "trial_clinics": "hillside"})
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.on_trial, candidate.trial_sample_percent, candidate.trial_clinic_codes()) == (
        True, 25, {"hillside"})
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRIAL_CHANGED)
    assert event.details["changes"]["trial_sample_percent"] == {"before": 100, "after": 25}


def test_a_sample_outside_one_to_a_hundred_percent_is_refused(client, administrator):
    candidate = model_version("candidate-v2")
    client.force_login(administrator)
    response = client.post(reverse("admin:classifier_modelversion_change", args=[candidate.pk]),
                           {"on_trial": "on", "trial_sample_percent": "0", "trial_clinics": ""})
    assert response.status_code == 200 and not ModelVersion.objects.get(pk=candidate.pk).on_trial


def test_rescoring_with_the_queue_down_says_so_and_records_nothing(client, administrator, settings):
    trial = trial_version("shadow-v2")
    client.force_login(administrator)
    previous = settings.REDIS_URL
    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        page = run_action(client, "rescore_past_cases", trial).content.decode()
    finally:
        use_broker(previous)
    assert "The task queue is unreachable" in page and "127.0.0.1" not in page
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_RESCORING_STARTED).exists()


def test_a_version_not_on_trial_is_not_rescored(client, administrator):
    candidate = model_version("candidate-v2")
    client.force_login(administrator)
    assert "is not on trial" in run_action(client, "rescore_past_cases", candidate).content.decode()


@pytest.fixture
def admin_radiologist(clinic):
    return make_user("admin_radiologist", RADIOLOGIST_GROUP, clinic, is_staff=True)


def test_the_case_admin_shows_radiologists_no_trial_prediction(client, clinic, staff, admin_radiologist):
    served_model_version()
    case, _ = predicted_case(clinic, staff, "normal")
    trial_predict(case, "covid", version=trial_version("shadow-v2"))
    client.force_login(admin_radiologist)
    page = client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()
    assert "tiny-test-model" in page and "shadow-v2" not in page


def test_the_active_version_cannot_be_put_on_trial_in_the_form(client, administrator):
    served = served_model_version()
    client.force_login(administrator)
    response = client.post(reverse("admin:classifier_modelversion_change", args=[served.pk]),
                           {"on_trial": "on", "trial_sample_percent": "100", "trial_clinics": ""})
    assert response.status_code == 200 and "cannot also be on trial" in response.content.decode()
    assert not ModelVersion.objects.get(pk=served.pk).on_trial
