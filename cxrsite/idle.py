"""The idle logout's warning (WCAG 2.2.1): how long the session has left, and a way to extend it.

static/cxr/idle.js warns a minute before the session ends; its "Stay signed in" button GETs
`stay_signed_in`, which saves the session at once rather than at most once a minute as
`refresh_idle_session` does, since the user has just asked for exactly that.
"""

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from cxrsite.middleware import REFRESHED_KEY


def seconds_left(request) -> int:
    """Seconds until the idle logout, counted from the last refresh (the session's last save
    is no earlier, so the warning never comes late)."""
    refreshed = request.session.get(REFRESHED_KEY, int(time.time()))
    return max(0, refreshed + settings.SESSION_COOKIE_AGE - int(time.time()))


def session_idle_seconds(request):
    """Context processor: `session_idle_seconds` for signed-in users (templates/base.html)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"session_idle_seconds": seconds_left(request)}


@require_GET
@login_required
def stay_signed_in(request):
    request.session[REFRESHED_KEY] = int(time.time())  # marks the session modified: it is saved now
    response = JsonResponse({"expires_in": settings.SESSION_COOKIE_AGE})
    response["Cache-Control"] = "private, no-store"
    return response
