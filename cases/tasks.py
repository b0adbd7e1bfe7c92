"""Celery entry points: take an id, call a service. Retries live here, outcomes in the service.

Classification runs on the `classification` queue; upkeep (the reaper, the orphan sweep, the
planner statistics, the displays of JPEG 2000 films) on its own `upkeep` queue with its own worker
(bin/run), so it runs while a backlog of cases waits (settings.CELERY_TASK_ROUTES).
"""

import socket

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import queue
from .classification import faults, services, trials, upkeep
from .dicom import outbox
from .intake import display
from .integrations import webhooks
from .notifications import services as notifications
from .oversight import drift, snapshots
from .validation import drift as validation_drift
from .storage import sweep


# Backoff 5, 10, 20, 40, 80 s (no jitter, which can shrink it to nothing): a database or storage
# outage of a few minutes is ridden out here; longer ones go to the reaper.
@shared_task(name=queue.CLASSIFY_TASK, autoretry_for=(faults.EnvironmentFault, OperationalError, InterfaceError),
             max_retries=settings.CXR_TASK_MAX_RETRIES, retry_backoff=settings.CXR_TASK_RETRY_BACKOFF_SECONDS,
             retry_backoff_max=300, retry_jitter=False)
def classify_case(case_id: int) -> str:
    outcome = services.classify_case(case_id, worker_host=socket.gethostname())
    if outcome == services.Outcome.PREDICTED:
        trials.start_trials(case_id)  # only once the served prediction is committed; never raises
    return outcome


@shared_task(name=queue.TRIAL_TASK, autoretry_for=faults.TRANSIENT_ERRORS, max_retries=3,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True)
def score_trial(case_id: int, version_id: int) -> str:
    return trials.score_with_trial(case_id=case_id, version_id=version_id, worker_host=socket.gethostname())


@shared_task(name=queue.RESCORE_TASK)
def rescore_past_cases(version_id: int, after_id: int) -> int:
    return trials.rescore_batch(version_id=version_id, after_id=after_id, worker_host=socket.gethostname())


@shared_task(name=queue.REQUEUE_STUCK_CASES_TASK)
def requeue_stuck_cases() -> dict[str, int]:
    return upkeep.requeue_stuck_cases()


@shared_task(name=queue.REFRESH_PLANNER_STATISTICS_TASK)
def refresh_planner_statistics() -> bool:
    return upkeep.refresh_planner_statistics()


@shared_task(name=queue.SWEEP_ORPHAN_FILES_TASK)
def sweep_orphan_files() -> dict[str, int]:
    return sweep.sweep_orphan_files()


@shared_task(name=queue.MAKE_DISPLAY_TASK)
def make_display(case_id: int) -> bool:
    return display.make_display(case_id)


@shared_task(name=queue.SEND_RESULT_TASK, bind=True, max_retries=None)
def send_dicom_result(self, result_id: int) -> str:
    """Retried with backoff while the PACS does not take it; failed after CXR_DICOM_SEND_ATTEMPTS tries."""
    host = socket.gethostname()
    try:
        return outbox.deliver_result(result_id, worker_host=host)
    except outbox.NotDelivered as error:
        if self.request.retries + 1 >= settings.CXR_DICOM_SEND_ATTEMPTS:
            outbox.fail_result(result_id, reason=str(error), worker_host=host)
            return "failed"
        raise self.retry(countdown=outbox.backoff(self.request.retries)) from None


@shared_task(name=queue.REQUEUE_UNSENT_RESULTS_TASK)
def requeue_unsent_results() -> int:
    return outbox.requeue_unsent_results(older_than=settings.CXR_REQUEUE_AFTER_SECONDS)


@shared_task(name=queue.REFRESH_OVERSIGHT_TASK)
def refresh_oversight() -> int:
    return snapshots.refresh()


@shared_task(name=queue.CHECK_CLINIC_DRIFT_TASK)
def check_clinic_drift() -> int:
    """The weekly drift flags, then the live clinics that fall short of their floors (paused): how many of both."""
    return drift.check_clinic_drift() + validation_drift.pause_falling_clinics()


@shared_task(name=queue.DELIVER_WEBHOOK_TASK)
def deliver_webhook(event_id: int) -> None:
    """One try; a near retry is queued with its delay, a far one is left to beat (requeue_due_deliveries)."""
    wait = webhooks.deliver(event_id, worker_host=socket.gethostname())
    if wait is not None and wait <= queue.longest_countdown():
        webhooks.publish(event_id, countdown=wait)


@shared_task(name=queue.SEND_NOTIFICATION_TASK, bind=True, max_retries=None)
def send_notification(self, notification_id: int) -> str:
    """Retried with backoff while the mail server or SMS provider refuses; failed after CXR_NOTIFICATION_ATTEMPTS."""
    host = socket.gethostname()
    try:
        return notifications.send_notification(notification_id, worker_host=host)
    except notifications.NotSent:
        if self.request.retries + 1 >= settings.CXR_NOTIFICATION_ATTEMPTS:
            notifications.fail_notification(notification_id, worker_host=host)
            return "failed"
        raise self.retry(countdown=notifications.backoff(self.request.retries)) from None


@shared_task(name=queue.REQUEUE_DUE_DELIVERIES_TASK)
def requeue_due_deliveries() -> int:
    return (webhooks.requeue_due(late_by=settings.CXR_REAPER_INTERVAL_SECONDS)
            + notifications.requeue_unsent(older_than=settings.CXR_REQUEUE_AFTER_SECONDS))
