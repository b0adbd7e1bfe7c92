"""Celery entry points: take an id, call a service. Retries live here, outcomes in the service."""

import socket

from celery import shared_task

from .classification import services, upkeep


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
