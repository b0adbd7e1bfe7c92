"""Periodic upkeep run by beat: the reaper that loses no case, and SQLite's planner statistics."""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ..audit.actors import Actor
from ..models import Case
from .services import Status, enqueue_case, fail_case, publish, transition


def requeue_stuck_cases() -> dict[str, int]:
    """The reaper: nothing submitted is ever lost, whatever happened to Redis or a worker.

    Cases unchanged for CXR_REQUEUE_AFTER_SECONDS (longer than any task may run):
    - submitted (the broker was down at submission): queued again;
    - queued (the message was lost, e.g. Redis restarted): published again; the timestamp
      is refreshed by compare-and-set so each stuck case is republished once per period;
    - classifying (the worker died): back to queued, or failed after CXR_MAX_ATTEMPTS claims.
      The compare-and-set checks the `status_changed` read here too, so a case a worker has
      claimed again since (a new classifying period) is left to that worker.
    Extra messages are harmless: the claim lets only one of them through.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.CXR_REQUEUE_AFTER_SECONDS)
    stuck = Case.objects.filter(status_changed__lt=cutoff)
    counts = {"submitted": 0, "queued": 0, "classifying": 0, "failed": 0}
    system = Actor.system()
    for case_id in stuck.filter(status=Status.SUBMITTED).values_list("pk", flat=True):
        counts["submitted"] += enqueue_case(case_id)
    for case_id, changed in stuck.filter(status=Status.QUEUED).values_list("pk", "status_changed"):
        if Case.objects.filter(pk=case_id, status=Status.QUEUED, status_changed=changed).update(
                status_changed=timezone.now()):
            counts["queued"] += publish(case_id)
    for case_id, attempts, changed in stuck.filter(status=Status.CLASSIFYING).values_list(
            "pk", "attempts", "status_changed"):
        if attempts >= settings.CXR_MAX_ATTEMPTS:
            reason = f"Gave up after {attempts} attempts: the worker stopped each time while classifying."
            counts["failed"] += fail_case(case_id, source=Status.CLASSIFYING, reason=reason, actor=system)
            continue
        with transaction.atomic():
            requeued = transition(case_id, source=Status.CLASSIFYING, target=Status.QUEUED, actor=system,
                                  expected_changed=changed, details={"reason": "the worker stopped while classifying"})
        if requeued is not None:
            counts["classifying"] += publish(case_id)
    return counts


def refresh_planner_statistics() -> bool:
    """Run ANALYZE on SQLite, so its query planner knows how large the tables are.

    Without statistics SQLite sorts every case for the worklist's "all statuses" view instead
    of reading its index (130 ms against under 1 ms at 100,000 cases, bench/pages.py).
    PostgreSQL keeps its own statistics (autovacuum): nothing to do there.
    """
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return True
