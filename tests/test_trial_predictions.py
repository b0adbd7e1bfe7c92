"""Silent-trial predictions are stored but shown to nobody who works on the case, and never
reorder the worklist; which cases a trial scores is bounded by a setting, its clinics and its sample."""

import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.classification import trials
from cases.intake.selectors import heatmap_name
from cases.models import AuditEvent, Case, Prediction, Review
from cases.reviews.selectors import latest_prediction, with_outcome
from classifier.artifacts import COMMITTED_MODEL, stored_path
from classifier.models import ModelVersion
from tests.factories import (make_case, predict, predicted_case, served_model_version, trial_predict,
                               trial_version)

SHADOW_SAYS = {"covid": 0.97, "normal": 0.02, "viral_pneumonia": 0.01}


@pytest.fixture
def shadowed_case(clinic, staff):
    """A case the served version called Normal (90.0%) and a later trial version called COVID-19 (97.0%)."""
    served = served_model_version()
    case = make_case(clinic, staff, mrn="H-SHADOW")
    predict(case, "normal", version=served)
    trial_predict(case, "covid", version=trial_version("shadow-v2"), probabilities=SHADOW_SAYS)
    Prediction.objects.filter(case=case, trial=True).update(heatmap_name="trial-heatmap.png")
    return case


def committed_trial(name: str = "shadow-v2", **fields):
    """A version on trial that runs for real here: the committed model under another record."""
    version = trial_version(name, **fields)
    ModelVersion.objects.filter(pk=version.pk).update(file=stored_path(COMMITTED_MODEL), sha256="1" * 64)
    version.refresh_from_db()
    return version


def test_the_selectors_every_page_uses_ignore_trial_predictions(shadowed_case):
    served = Prediction.objects.get(case=shadowed_case, trial=False)
    assert latest_prediction(shadowed_case) == served
    assert heatmap_name(shadowed_case) == served.heatmap_name
    outcome = with_outcome(Case.objects.filter(pk=shadowed_case.pk)).get()
    assert outcome.confidence == pytest.approx(0.90)
    assert list(Prediction.objects.shown()) == [served]


def test_staff_see_only_the_served_prediction_on_the_case_page_and_status(client, staff, shadowed_case):
    client.force_login(staff)
    page = client.get(reverse("cases:case_detail", args=[shadowed_case.public_id])).content.decode()
    status = client.get(reverse("cases:case_status", args=[shadowed_case.public_id])).content.decode()
    # Staff read words (issue 27): the served "Normal", never the trial's COVID-19 call.
    assert 'data-testid="ai-suggestion">Normal<' in page and "Viral-pattern pneumonia: unlikely" in page
    for text in ("shadow-v2", "97 %", "pneumonia: likely", "Viral-pattern pneumonia<"):
        assert text not in page and text not in status


def test_radiologists_see_only_the_served_prediction_on_the_review_page_and_report(client, radiologist,
                                                                                 shadowed_case):
    client.force_login(radiologist)
    review = client.get(reverse("cases:review", args=[shadowed_case.public_id])).content.decode()
    assert "served-v1" in review and "90 %" in review
    assert client.post(reverse("cases:review", args=[shadowed_case.public_id]),
                       {"finding": "normal", "prediction": latest_prediction(shadowed_case).pk}).status_code == 302
    report = client.get(reverse("cases:report", args=[shadowed_case.public_id])).content.decode()
    for text in ("shadow-v2", "97 %"):
        assert text not in review and text not in report
    assert Review.objects.get(case=shadowed_case).prediction.model_version.name == "served-v1"


def test_the_heatmap_served_is_the_served_versions(client, staff, shadowed_case):
    client.force_login(staff)
    response = client.get(reverse("cases:image", args=[shadowed_case.public_id, "heatmap"]))
    assert response.status_code == 200  # the trial's name points at no file: a 404 would mean it was used


def test_a_real_trial_prediction_leaves_the_worklist_columns_and_order_alone(client, clinic, staff, radiologist,
                                                                           settings):
    settings.CXR_TRIALS_ENABLED = True
    served_model_version()
    waiting_long, _ = predicted_case(clinic, staff, "normal", mrn="ROUTINE-OLDER")
    covid, _ = predicted_case(clinic, staff, "covid", mrn="COVID-NEWER")
    trial = committed_trial()
    for case in (waiting_long, covid):
        assert trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="here") == "predicted"
    waiting_long.refresh_from_db()
    assert (waiting_long.predicted_label, waiting_long.covid_probability) == ("normal", pytest.approx(0.03))
    assert Prediction.objects.filter(model_version=trial, trial=True).count() == 2
    client.force_login(radiologist)
    page = client.get(reverse("cases:worklist"))
    assert [case.patient.mrn for case in page.context["page"].object_list] == ["COVID-NEWER", "ROUTINE-OLDER"]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_PREDICTION_WRITTEN).count() == 2


def test_a_trial_scores_a_case_once_however_often_it_is_asked(clinic, staff):
    served_model_version()
    case, _ = predicted_case(clinic, staff, "normal")
    trial = committed_trial()
    outcomes = [trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="here") for _ in range(3)]
    assert outcomes == ["predicted", "skipped", "skipped"]
    assert Prediction.objects.filter(case=case, model_version=trial).count() == 1


def test_a_trial_that_cannot_classify_is_audited_and_writes_nothing(clinic, staff, tmp_path):
    served_model_version()
    case, served = predicted_case(clinic, staff, "normal")
    broken = trial_version("broken-v3")
    (tmp_path / "broken.tflite").write_bytes(b"not a model")
    ModelVersion.objects.filter(pk=broken.pk).update(file=str(tmp_path / "broken.tflite"))
    assert trials.score_with_trial(case_id=case.pk, version_id=broken.pk, worker_host="here") == "failed"
    assert list(Prediction.objects.filter(case=case)) == [served]
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRIAL_FAILED)
    assert event.details["model_version"] == "broken-v3" and str(tmp_path) not in str(event.details)


def test_trials_do_nothing_when_the_setting_turns_them_off(clinic, staff, settings):
    settings.CXR_TRIALS_ENABLED = False
    served_model_version()
    case, _ = predicted_case(clinic, staff, "normal")
    trial = committed_trial()
    assert trials.start_trials(case.pk) == 0
    assert trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="here") == "skipped"
    assert not Prediction.objects.filter(model_version=trial).exists()


def test_a_trial_covers_only_its_clinics_and_a_stable_sample_of_cases():
    version = ModelVersion(name="sampled", trial_clinics="hillside, lakeside", trial_sample_percent=30)
    keys = [uuid.UUID(int=n * 7919 + 13) for n in range(1000)]
    covered = [key for key in keys if version.trial_covers(clinic_code="hillside", case_key=key)]
    assert 250 <= len(covered) <= 350
    assert covered == [key for key in keys if version.trial_covers(clinic_code="hillside", case_key=key)]
    assert not any(version.trial_covers(clinic_code="riverside", case_key=key) for key in keys)


def test_an_ended_or_activated_trial_scores_nothing_more(clinic, staff):
    served_model_version()
    case, _ = predicted_case(clinic, staff, "normal")
    trial = committed_trial()
    ModelVersion.objects.filter(pk=trial.pk).update(on_trial=False)
    assert trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="here") == "skipped"


def test_scoring_past_cases_here_writes_each_reviewed_case_once_however_often_it_runs(clinic, staff, radiologist):
    served_model_version()
    reviewed = []
    for number in range(3):
        case, prediction = predicted_case(clinic, staff, "normal", mrn=f"PAST-{number}")
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="normal", agreed=True)
        reviewed.append(case)
    waiting, _ = predicted_case(clinic, staff, "covid", mrn="NOT-REVIEWED")
    trial = committed_trial()
    call_command("score_past_cases", trial.name, "--now")
    call_command("score_past_cases", trial.name, "--now")
    scored = Prediction.objects.filter(model_version=trial)
    assert sorted(p.case_id for p in scored) == sorted(case.pk for case in reviewed)
    assert all(p.trial for p in scored) and waiting.pk not in {p.case_id for p in scored}
