"""Celery entry points: take an id, call a service. Retries live here, outcomes in the service."""

import socket

from celery import shared_task

from .audit import drift
from .classification import services, trials, upkeep


@shared_task(name=services.CLASSIFY_TASK, autoretry_for=services.TRANSIENT_ERRORS, max_retries=5,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True)
def classify_case(case_id: int) -> str:
    outcome = services.classify_case(case_id, worker_host=socket.gethostname())
    if outcome == services.Outcome.PREDICTED:
        trials.start_trials(case_id)  # only once the served prediction is committed; never raises
    return outcome


@shared_task(name=trials.TRIAL_TASK, autoretry_for=services.TRANSIENT_ERRORS, max_retries=3,
             retry_backoff=2, retry_backoff_max=60, retry_jitter=True)
def score_trial(case_id: int, version_id: int) -> str:
    return trials.score_with_trial(case_id=case_id, version_id=version_id, worker_host=socket.gethostname())


@shared_task(name=trials.RESCORE_TASK)
def rescore_past_cases(version_id: int, after_id: int) -> int:
    return trials.rescore_batch(version_id=version_id, after_id=after_id, worker_host=socket.gethostname())


@shared_task(name="cases.tasks.requeue_stuck_cases")
def requeue_stuck_cases() -> dict[str, int]:
    return upkeep.requeue_stuck_cases()


@shared_task(name="cases.tasks.refresh_planner_statistics")
def refresh_planner_statistics() -> bool:
    return upkeep.refresh_planner_statistics()


@shared_task(name="cases.tasks.check_clinic_drift")
def check_clinic_drift() -> int:
    return drift.check_clinic_drift()
