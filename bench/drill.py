"""Fault drill for bench/pipeline.py --drill: workers killed and Redis restarted mid-burst.

Cases are uploaded over HTTP at a fixed rate to two workers while, every few seconds, one worker
is killed with SIGKILL (and a new one started), and once, halfway, Redis is stopped for a few
seconds and started again empty (no persistence: every queued message is lost). A reaper runs
every few seconds, as beat would. Then it waits until every stored case is predicted or failed,
and counts: uploads accepted, cases stored, predictions, duplicates, and lost cases (accepted,
but never predicted). Short task limits and requeue period make the drill take minutes, not hours.
"""

import random
import threading
import time

DRILL_SETTINGS = {"CXR_TASK_SOFT_TIME_LIMIT": "15", "CXR_TASK_TIME_LIMIT": "20", "CXR_REQUEUE_AFTER_SECONDS": "25",
                  "CXR_TASK_RETRY_BACKOFF_SECONDS": "1", "CXR_MAX_ATTEMPTS": "5"}
REAPER_SECONDS, KILL_EVERY_SECONDS, REDIS_DOWN_SECONDS = 5, 4, 5


class Chaos:
    """Kills a random worker every KILL_EVERY_SECONDS and restarts Redis once, until stopped."""

    def __init__(self, workers: list, start_worker, redis_server, *, redis_at: float):
        self.workers, self.start_worker, self.redis = workers, start_worker, redis_server
        self.redis_at, self.kills, self.redis_restarts = redis_at, 0, 0
        self.stopped = threading.Event()
        self.rng = random.Random(7)

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(KILL_EVERY_SECONDS):
            if not self.redis_restarts and time.monotonic() - started >= self.redis_at:
                self.redis.stop()
                time.sleep(REDIS_DOWN_SECONDS)
                self.redis.start()
                self.redis_restarts += 1
                continue
            index = self.rng.randrange(len(self.workers))
            self.workers[index].kill()
            self.kills += 1
            self.workers[index] = self.start_worker(f"drill-{self.kills}")


def reap_until(stop: threading.Event) -> None:
    from cases.classification.upkeep import requeue_stuck_cases

    while not stop.wait(REAPER_SECONDS):
        try:
            requeue_stuck_cases()
        except Exception as error:  # Redis down: the next round retries, as beat's would
            print("reaper:", type(error).__name__, flush=True)


def outcome(prefix: str, accepted: int) -> dict:
    from django.db.models import Count

    from cases.models import AuditEvent, Case, Prediction

    cases = Case.objects.filter(patient__mrn__startswith=prefix)
    per_case = Prediction.objects.filter(case__in=cases).values("case").annotate(n=Count("id"))
    writes = AuditEvent.objects.filter(case__in=cases, action="prediction_written").values("case").annotate(
        n=Count("id"))
    return {
        "uploads accepted": accepted, "cases stored": cases.count(),
        "predicted": cases.filter(status=Case.Status.PREDICTED).count(),
        "failed": cases.filter(status=Case.Status.FAILED).count(),
        "predictions": Prediction.objects.filter(case__in=cases).count(),
        "duplicates": sum(row["n"] - 1 for row in per_case if row["n"] > 1)
        + sum(row["n"] - 1 for row in writes if row["n"] > 1),
        "lost": accepted - cases.filter(status=Case.Status.PREDICTED).count(),
    }


def drill(web, workers: list, start_worker, redis_server, films: list[bytes], *, cases: int, rate: float,
          upload_phase) -> dict:
    """One drill; `upload_phase(web, name, films, cases=, rate=)` returns the accepted uploads' times."""
    from cases.models import Case
    from cxrsite.testing.stack import wait_for

    chaos = Chaos(workers, start_worker, redis_server, redis_at=cases / rate / 2)
    reaper_stop = threading.Event()
    threads = [threading.Thread(target=chaos.run), threading.Thread(target=reap_until, args=(reaper_stop,))]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        accepted = len(upload_phase(web, "drill", films, cases=cases, rate=rate))
    finally:
        chaos.stopped.set()
        threads[0].join()
    pending = Case.objects.filter(patient__mrn__startswith="drill-").exclude(
        status__in=[Case.Status.PREDICTED, Case.Status.FAILED])
    try:
        wait_for(lambda: not pending.exists(), timeout=900, interval=1, what="every drill case to finish")
    finally:
        reaper_stop.set()
        threads[1].join()
    return {**outcome("drill-", accepted), "worker kills": chaos.kills, "Redis restarts": chaos.redis_restarts,
            "minutes to finish": round((time.monotonic() - started) / 60, 1)}
