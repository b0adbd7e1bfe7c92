import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


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


@login_not_required
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    return JsonResponse({"ok": all(checks.values()), **checks}, status=200 if all(checks.values()) else 503)
