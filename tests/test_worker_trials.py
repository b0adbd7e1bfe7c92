"""Silent trials against a real Redis and a real Celery worker: each new case is scored once by
every version on trial, after and apart from its served prediction; re-scoring the past runs in
the background and writes each trial prediction once however often it is started."""

import pytest
import redis
from django.core.management import call_command
from django.urls import reverse

from cases import storage
from cases.classification.services import enqueue_case
from cases.models import AuditEvent, Case, Prediction, Review
from cases.queue import TRIAL_TASK
from classifier.artifacts import file_sha256, stored_path
from classifier.models import ModelVersion
from cxrsite.celery import app as celery_app
from cxrsite.testing.images import chest_like_array, encode
from cxrsite.testing.stack import wait_for
from tests.factories import make_case, predict

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]


def on_trial(name: str, path, sha256: str) -> ModelVersion:
    return ModelVersion.objects.create(name=name, architecture="test", file=stored_path(path), sha256=sha256,
                                       on_trial=True)


@pytest.fixture
def working_trial(stack):
    # The served model's file under another registration: a second version that runs for real.
    return on_trial("trial-v2", stack.config.model_path, "1" * 64)


@pytest.fixture
def broken_trial(stack):
    path = stack.storage_dir.parent / "broken.tflite"
    path.write_bytes(b"this is not a LiteRT model")
    return on_trial("broken-v3", path, "2" * 64)


def drained(stack) -> bool:
    broker = redis.Redis.from_url(stack.redis.url)
    return broker.llen("celery") == 0 and broker.hlen("unacked") == 0


def test_a_new_case_gets_its_served_prediction_and_one_silent_prediction_per_trial(
        stack, staff, clinic, working_trial, broken_trial):
    case = make_case(clinic, staff, mrn="H-TRIAL")
    assert enqueue_case(case.pk)
    wait_for(lambda: Prediction.objects.filter(case=case, model_version=working_trial).exists(), timeout=60,
             interval=0.1, what="the trial prediction")
    wait_for(lambda: AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_FAILED, case=case).exists(),
             timeout=30, interval=0.1, what="the broken trial's failure")
    celery_app.send_task(TRIAL_TASK, args=[case.pk, working_trial.pk])  # a second delivery of the same trial
    wait_for(lambda: drained(stack), timeout=30, what="the worker to acknowledge every message")

    case.refresh_from_db()
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    served = Prediction.objects.shown().get(case=case)
    assert served.model_version.sha256 == file_sha256(stack.config.model_path)
    assert (case.predicted_label, case.covid_probability) == (served.label,
                                                              pytest.approx(served.probabilities["covid"]))
    trial = Prediction.objects.get(case=case, model_version=working_trial)
    assert trial.trial and trial.created >= served.created
    assert not Prediction.objects.filter(model_version=broken_trial).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_PREDICTION_WRITTEN, case=case).count() == 1


def test_rescoring_past_cases_in_the_background_writes_each_trial_prediction_once(
        stack, staff, clinic, radiologist, working_trial):
    reviewed = []
    for number in range(3):
        case = make_case(clinic, staff, mrn=f"PAST-{number}")
        prediction = predict(case, "normal")
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="normal", agreed=True)
        reviewed.append(case.pk)
    predict(make_case(clinic, staff, mrn="WAITING"), "covid")

    call_command("score_past_cases", working_trial.name)
    call_command("score_past_cases", working_trial.name)
    wait_for(lambda: Prediction.objects.filter(model_version=working_trial).count() >= 3, timeout=60,
             interval=0.1, what="the past cases to be scored")
    wait_for(lambda: drained(stack), timeout=30, what="the worker to acknowledge every message")

    scored = Prediction.objects.filter(model_version=working_trial)
    assert sorted(scored.values_list("case_id", flat=True)) == sorted(reviewed)
    assert all(scored.values_list("trial", flat=True))
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_RESCORING_STARTED).count() == 2


def test_images_the_trial_reads_are_the_cases_own(stack, staff, clinic, working_trial):
    """A trial classifies the stored display image of the case, as the served version does."""
    pixels = chest_like_array(256, seed=11)
    case = make_case(clinic, staff, mrn="H-PIXELS")
    Case.objects.filter(pk=case.pk).update(display_name=storage.save_bytes(encode(pixels), ".png"))
    assert enqueue_case(case.pk)
    wait_for(lambda: Prediction.objects.filter(case=case, model_version=working_trial).exists(), timeout=60,
             interval=0.1, what="the trial prediction")
    served = Prediction.objects.shown().get(case=case)
    trial = Prediction.objects.get(case=case, model_version=working_trial)
    # Same file, same image: the same answer, which a trial reading another image would not give.
    assert trial.probabilities == pytest.approx(served.probabilities, abs=1e-6)


def test_the_admin_action_scores_the_reviewed_past_cases_in_the_background(
        stack, client, administrator, staff, clinic, radiologist, working_trial):
    case = make_case(clinic, staff, mrn="PAST-ADMIN")
    prediction = predict(case, "normal")
    Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="normal", agreed=True)
    client.force_login(administrator)
    page = client.post(reverse("admin:classifier_modelversion_changelist"),
                       {"action": "rescore_past_cases", "_selected_action": [working_trial.pk]}, follow=True)
    assert "Queued 1 reviewed case(s) for scoring with trial-v2" in page.content.decode()
    wait_for(lambda: Prediction.objects.filter(case=case, model_version=working_trial).exists(), timeout=60,
             interval=0.1, what="the past case to be scored")
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRIAL_RESCORING_STARTED)
    assert event.actor == administrator and event.details == {"model_version": "trial-v2", "cases": 1}
