"""Asynchronous classification against a real Redis and a real Celery worker process.

Each case ends with exactly one prediction per model version, whatever happens on the way:
a duplicate message, a worker killed mid-task, Redis down at submission, a bad image.
"""

import numpy as np
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from cases import storage
from cases.classification.services import enqueue_case
from cases.models import AuditEvent, Case, Patient, Prediction
from cases.queue import CLASSIFY_TASK
from classifier.artifacts import file_sha256
from classifier.inference import classify
from classifier.labels import LABELS
from cxrsite.celery import app as celery_app
from cxrsite.testing.images import chest_like_array, encode, png_bytes
from cxrsite.testing.stack import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]

FINISHED = {Case.Status.PREDICTED, Case.Status.FAILED}




@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def submit_through_form(client, clinic, data: bytes, *, mrn: str = "H-2001"):
    return client.post(reverse("cases:case_new"), {
        "clinic": clinic.pk, "mrn": mrn, "age": "61", "sex": "M", "view": "PA", "symptoms": "fever",
        "image": SimpleUploadedFile("chest.png", data, content_type="image/png"),
    }, follow=True)


def stored_case(staff, clinic, display: bytes) -> Case:
    """A committed, submitted case whose display image is `display` (bypassing the upload checks)."""
    patient = Patient.objects.create(clinic=clinic, mrn=f"H-{Patient.objects.count() + 3000}")
    name = storage.save_bytes(display, ".png")
    return Case.objects.create(clinic=clinic, patient=patient, submitted_by=staff, image_name=name,
                               display_name=name, image_sha256=storage.sha256_of(display), image_format="PNG",
                               image_width=256, image_height=256)


def wait_until_finished(case: Case, timeout: float = 60) -> Case:
    wait_for(lambda: Case.objects.get(pk=case.pk).status in FINISHED, timeout=timeout, interval=0.1,
             what=f"case {case.pk} to be predicted or failed")
    return Case.objects.get(pk=case.pk)


def wait_until_queue_drained(stack) -> None:
    """Every message published so far has been received and acknowledged by the worker."""
    broker = redis.Redis.from_url(stack.redis.url)
    wait_for(lambda: broker.llen("classification") == 0 and broker.hlen("unacked") == 0, timeout=30,
             what="the worker to acknowledge every message")


def test_a_case_submitted_through_the_form_gets_the_served_models_prediction(stack, staff_client, clinic):
    pixels = chest_like_array(256, seed=7)
    response = submit_through_form(staff_client, clinic, encode(pixels))
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == reverse("cases:case_detail", args=[case.public_id])

    case = wait_until_finished(case)

    assert case.status == Case.Status.PREDICTED, case.failure_reason
    prediction = Prediction.objects.get(case=case)
    expected = classify(pixels, model_path=stack.config.model_path)
    assert prediction.label == expected.label
    assert prediction.probabilities.keys() == set(LABELS)
    assert prediction.probabilities == pytest.approx(expected.probabilities, abs=1e-5)
    assert prediction.model_version.sha256 == file_sha256(stack.config.model_path)
    assert prediction.queue_wait_ms >= 0 and prediction.inference_ms > 0
    assert storage.path_of(prediction.heatmap_name).stat().st_size > 0
    written = AuditEvent.objects.get(action="prediction_written", case=case)
    assert written.actor_label == f"worker@{prediction.worker_host}"
    assert written.details["model_version"] == prediction.model_version.name
    transitions = [(e.details["from"], e.details["to"])
                   for e in AuditEvent.objects.filter(action="status_changed", case=case).order_by("id")]
    assert transitions == [("submitted", "queued"), ("queued", "classifying"), ("classifying", "predicted")]
    status = staff_client.get(reverse("cases:case_status", args=[case.public_id])).json()
    assert status["status"] == "predicted" and status["final"] is True


def test_healthz_reports_a_running_worker(stack, client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": True, "redis": True, "model": True, "worker": True}


def test_the_same_message_delivered_twice_writes_one_prediction(stack, staff, clinic):
    case = stored_case(staff, clinic, png_bytes(seed=3))
    assert enqueue_case(case.pk)
    celery_app.send_task(CLASSIFY_TASK, args=[case.pk])  # the same message again, as a redelivery would
    celery_app.send_task(CLASSIFY_TASK, args=[case.pk])

    case = wait_until_finished(case)
    wait_until_queue_drained(stack)

    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1
    assert AuditEvent.objects.filter(action="prediction_written", case=case).count() == 1
    assert case.attempts == 1


def test_an_image_that_cannot_be_classified_fails_once_with_its_reason(stack, staff_client, staff, clinic):
    case = stored_case(staff, clinic, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a PNG signature, then nothing
    enqueue_case(case.pk)

    case = wait_until_finished(case)
    wait_until_queue_drained(stack)

    case.refresh_from_db()
    assert case.status == Case.Status.FAILED
    assert case.failure_reason.startswith("The image could not be classified")
    assert " at 0x" not in case.failure_reason  # no library object reprs in what staff read
    assert case.attempts == 1
    assert AuditEvent.objects.filter(action="classification_failed", case=case).count() == 1
    assert not Prediction.objects.filter(case=case).exists()
    page = staff_client.get(reverse("cases:case_detail", args=[case.public_id]))
    assert "Classification failed." in page.content.decode()
    assert escape(case.failure_reason) in page.content.decode()


def test_an_administrator_retries_a_failed_case_and_it_gets_predicted(stack, client, administrator, staff, clinic):
    case = stored_case(staff, clinic, png_bytes(seed=5))
    Case.objects.filter(pk=case.pk).update(status=Case.Status.FAILED, failure_reason="The worker ran out of memory.")
    client.force_login(administrator)

    response = client.post(reverse("cases:case_retry", args=[case.public_id]))

    assert response.status_code == 302
    case = wait_until_finished(case)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert case.failure_reason == ""
    retried = AuditEvent.objects.get(action="case_retried", case=case)
    assert retried.actor == administrator
    assert retried.details["previous_failure"] == "The worker ran out of memory."


def test_a_worker_killed_while_classifying_leaves_one_prediction_once_the_reaper_requeues(
        stack, client, settings, staff, clinic):
    # A full-resolution film keeps the worker busy long enough (decode, heatmap) to be caught mid-task.
    big = np.kron(chest_like_array(512, seed=9), np.ones((6, 6), dtype=np.uint8))
    case = stored_case(staff, clinic, encode(big))
    enqueue_case(case.pk)
    wait_for(lambda: Case.objects.get(pk=case.pk).status == Case.Status.CLASSIFYING, timeout=30, interval=0.01,
             what="the worker to claim the case")

    stack.worker.kill()

    assert Case.objects.get(pk=case.pk).status == Case.Status.CLASSIFYING
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["worker"] is False
    stack.restart_worker()
    settings.CXR_REQUEUE_AFTER_SECONDS = 0
    call_command("requeue_stuck_cases")
    case = wait_until_finished(case)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1
    assert case.attempts == 2


def test_with_redis_down_at_submission_the_case_is_saved_and_the_reaper_gets_it_predicted(
        stack, staff_client, settings, clinic):
    stack.redis.stop()
    try:
        response = submit_through_form(staff_client, clinic, png_bytes(seed=11))
    finally:
        stack.redis.start()

    case = Case.objects.get()
    assert response.status_code == 200
    assert case.status == Case.Status.SUBMITTED
    assert "Classification is delayed." in response.content.decode()
    wait_for(stack.worker.answers_ping, timeout=60, interval=0.5, what="the worker to reconnect to Redis")
    settings.CXR_REQUEUE_AFTER_SECONDS = 0
    call_command("requeue_stuck_cases")
    case = wait_until_finished(case)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1


def test_a_queued_case_whose_message_was_lost_is_published_again_by_the_reaper(stack, settings, staff, clinic):
    case = stored_case(staff, clinic, png_bytes(seed=13))
    Case.objects.filter(pk=case.pk).update(status=Case.Status.QUEUED)  # as if Redis restarted and lost it
    settings.CXR_REQUEUE_AFTER_SECONDS = 0

    call_command("requeue_stuck_cases")

    case = wait_until_finished(case)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1


def test_the_reaper_gives_up_on_a_case_after_the_allowed_attempts(stack, settings, staff_client, staff, clinic):
    case = stored_case(staff, clinic, png_bytes(seed=17))
    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLASSIFYING, attempts=3)
    settings.CXR_REQUEUE_AFTER_SECONDS = 0
    settings.CXR_MAX_ATTEMPTS = 3

    call_command("requeue_stuck_cases")

    case.refresh_from_db()
    assert case.status == Case.Status.FAILED
    assert case.failure_reason.startswith("Gave up after 3 attempts")
    assert AuditEvent.objects.filter(action="classification_failed", case=case).count() == 1
    status = staff_client.get(reverse("cases:case_status", args=[case.public_id])).json()
    assert "Gave up after 3 attempts" in status["html"]
