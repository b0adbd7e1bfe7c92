import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from cases import queue
from cases.classification.model_faults import open_model_faults


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _worker_ok() -> bool:
    """At least one Celery worker answers a ping within CXR_WORKER_PING_TIMEOUT seconds."""
    try:
        return queue.workers_answer(timeout=settings.CXR_WORKER_PING_TIMEOUT)
    except Exception:
        return False


def _model_ok() -> bool:
    """No worker machine has failed to load the model it serves since it last loaded one."""
    try:
        return not open_model_faults()
    except Exception:
        return False


@login_not_required
@require_GET
def healthz(request):
    """503 when this web server cannot take cases (database or Redis down). A worker that cannot
    classify (none answers, or one cannot load its model: `"model": false`) is reported as
    `"worker": false` (cases wait in the queue) but is no reason to take the web server out of a
    load balancer."""
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    ok = all(checks.values())
    checks["model"] = checks["database"] and _model_ok()
    # Without Redis a ping cannot be sent; skip the wait.
    checks["worker"] = checks["redis"] and checks["model"] and _worker_ok()
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
