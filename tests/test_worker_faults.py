"""Faults around a real worker and a real Redis: a frozen broker, read-only storage, two reapers.

However the environment fails, each case ends with exactly one prediction, no committed file
is removed, and no administrator has to step in once the fault is gone.
"""

import threading

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from cases import storage
from cases.classification.services import enqueue_case
from cases.classification.upkeep import requeue_stuck_cases
from cases.models import AuditEvent, Case, Prediction
from cxrsite.testing.images import png_bytes
from cxrsite.testing.stack import wait_for
from tests.faults import frozen, read_only
from tests.test_worker_pipeline import stored_case, submit_through_form, wait_until_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]


def test_a_frozen_broker_during_submission_saves_the_case_and_it_is_predicted_once_the_broker_answers(
        stack, staff, clinic, settings):
    client = Client()
    client.force_login(staff)
    answered = {}
    with frozen(stack.redis.process):
        submission = threading.Thread(target=lambda: answered.update(
            response=submit_through_form(client, clinic, png_bytes(seed=21))))
        submission.start()
        submission.join(timeout=60)  # a hung publish would keep it here: the test fails, it does not hang
        assert not submission.is_alive(), "the submission hung on the frozen broker"
    response, case = answered["response"], Case.objects.get()
    assert response.status_code == 200
    assert "Classification is delayed." in response.content.decode()
    assert case.status == Case.Status.SUBMITTED
    assert storage.path_of(case.image_name).exists() and storage.path_of(case.display_name).exists()

    wait_for(stack.worker.answers_ping, timeout=60, interval=0.5, what="the worker to answer again")
    settings.CXR_REQUEUE_AFTER_SECONDS = 0
    call_command("requeue_stuck_cases")
    case = wait_until_finished(case)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1


def test_read_only_storage_while_classifying_leaves_the_case_retrying_then_predicted_with_no_administrator(
        stack, staff, clinic):
    case = stored_case(staff, clinic, png_bytes(seed=23))
    with read_only(stack.storage_dir):
        enqueue_case(case.pk)
        wait_for(lambda: AuditEvent.objects.filter(case=case, action="status_changed",
                                                   details__cause="storage").exists(),
                 timeout=60, what="the worker to meet the read-only storage and release the case")
        released = Case.objects.get(pk=case.pk)
        assert released.status in (Case.Status.QUEUED, Case.Status.CLASSIFYING)
        assert released.failure_cause == Case.FailureCause.STORAGE
    case = wait_until_finished(case, timeout=90)  # the task's own retry, 5 s later, finds it writable
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert Prediction.objects.filter(case=case).count() == 1
    assert case.attempts == 1  # the fault was the storage's, not the image's: it is not counted
    assert not AuditEvent.objects.filter(case=case, action="classification_failed").exists()


def test_two_reapers_at_once_requeue_each_stuck_case_once(stack, staff, clinic):
    stuck = [stored_case(staff, clinic, png_bytes(seed=30 + n)) for n in range(6)]
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    Case.objects.filter(pk__in=[c.pk for c in stuck]).update(status=Case.Status.CLASSIFYING, attempts=1,
                                                              status_changed=long_ago)
    reapers = [threading.Thread(target=requeue_stuck_cases) for _ in range(2)]
    for reaper in reapers:
        reaper.start()
    for reaper in reapers:
        reaper.join(timeout=60)
    for case in stuck:
        requeued = AuditEvent.objects.filter(case=case, action="status_changed", details__from="classifying",
                                             details__to="queued", actor_label="system")
        assert requeued.count() == 1, case.pk
        assert wait_until_finished(case).status == Case.Status.PREDICTED
        assert Prediction.objects.filter(case=case).count() == 1
