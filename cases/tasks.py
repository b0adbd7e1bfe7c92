"""Celery entry points: take an id, call a service. Retries live here, outcomes in the service."""

import socket

from celery import shared_task
from django.conf import settings

from .classification import services, upkeep
from .dicom import outbox


@shared_task(name=services.CLASSIFY_TASK, autoretry_for=services.TRANSIENT_ERRORS, max_retries=5,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True)
def classify_case(case_id: int) -> str:
    return services.classify_case(case_id, worker_host=socket.gethostname())


@shared_task(name="cases.tasks.requeue_stuck_cases")
def requeue_stuck_cases() -> dict[str, int]:
    return upkeep.requeue_stuck_cases()


@shared_task(name="cases.tasks.refresh_planner_statistics")
def refresh_planner_statistics() -> bool:
    return upkeep.refresh_planner_statistics()


@shared_task(name=outbox.SEND_TASK, bind=True, max_retries=None)
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


@shared_task(name="cases.tasks.requeue_unsent_results")
def requeue_unsent_results() -> int:
    return outbox.requeue_unsent_results(older_than=settings.CXR_REQUEUE_AFTER_SECONDS)
