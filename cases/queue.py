"""The one door to the broker: the Celery task names, the errors a broker raises, and `publish`.

Nothing else in the project imports the Celery app (tests/test_architecture.py holds the rule),
so the task names, what counts as "the broker is unreachable" and how a publish fails are
decided here once. The names are stored in every message already queued, and settings.py
routes and schedules them by name: they never change.
"""

import logging

from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cxrsite.celery import app

log = logging.getLogger(__name__)

# Classification queue (cases/tasks.py).
CLASSIFY_TASK = "cases.tasks.classify_case"
TRIAL_TASK = "cases.tasks.score_trial"
RESCORE_TASK = "cases.tasks.rescore_past_cases"
SEND_RESULT_TASK = "cases.tasks.send_dicom_result"
# Upkeep queue, run by beat (settings.CELERY_TASK_ROUTES, CELERY_BEAT_SCHEDULE).
REQUEUE_STUCK_CASES_TASK = "cases.tasks.requeue_stuck_cases"
REFRESH_PLANNER_STATISTICS_TASK = "cases.tasks.refresh_planner_statistics"
SWEEP_ORPHAN_FILES_TASK = "cases.tasks.sweep_orphan_files"
REQUEUE_UNSENT_RESULTS_TASK = "cases.tasks.requeue_unsent_results"
REFRESH_OVERSIGHT_TASK = "cases.tasks.refresh_oversight"
CHECK_CLINIC_DRIFT_TASK = "cases.tasks.check_clinic_drift"
REQUEUE_DUE_DELIVERIES_TASK = "cases.tasks.requeue_due_deliveries"
# Upkeep queue too, queued by intake: the display of a JPEG 2000 film (cases/intake/display.py).
MAKE_DISPLAY_TASK = "cases.tasks.make_display"
# Integrations queue: what leaves the site (webhooks, notifications), with a worker of its own (bin/run).
DELIVER_WEBHOOK_TASK = "cases.tasks.deliver_webhook"
SEND_NOTIFICATION_TASK = "cases.tasks.send_notification"

# What the broker raises when it is unreachable, refuses or hangs (also inside a running task).
BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError)
# What a publish raises then: the broker's errors, or the socket's own (a refused connection).
PUBLISH_ERRORS = (*BROKER_ERRORS, OSError)


def publish(task: str, *args, retry: bool | None = None, countdown: float | None = None) -> bool:
    """Queue `task` with these arguments; False (and a warning in the log) when the broker cannot
    take it. `retry=False` sends without the publish retries of CELERY_TASK_PUBLISH_RETRY_POLICY:
    a broker that is down then fails within one socket timeout (for callers with a retry of their own).
    `countdown`: run it that many seconds from now, at most `longest_countdown()`."""
    try:
        app.send_task(task, args=list(args), retry=retry, countdown=countdown)
        return True
    except PUBLISH_ERRORS as error:
        log.warning("Could not queue %s%s: %s", task, tuple(args), error)
        return False


def longest_countdown() -> float:
    """The longest wait a message may be held for: a worker holds a delayed message unacknowledged, and
    Redis hands it to another worker once the visibility timeout passes."""
    return app.conf.broker_transport_options.get("visibility_timeout", 3600) / 2


def workers_answer(*, timeout: float) -> bool:
    """Whether at least one worker answers a ping within `timeout` seconds."""
    return bool(app.control.ping(timeout=timeout, limit=1))
