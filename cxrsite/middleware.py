"""The client's address behind our own proxy; no cached copies of pages with patient data; idle sessions
refreshed without a write per request."""

import time

from django.conf import settings
from django.utils.cache import patch_cache_control

REFRESHED_KEY = "_cxr_refreshed"


def address_from_local_proxy(get_response):
    """The client's address, for the audit trail and the lock-outs, when nginx passed the request on.

    bin/run binds gunicorn to a Unix socket in the private data folder, which only the nginx it
    starts can open; gunicorn then leaves REMOTE_ADDR empty, and nginx sends the client's address in
    X-Real-IP, its own value in place of any the client wrote. A request that came over TCP keeps
    its REMOTE_ADDR: there the header could be the client's own. Goes first in MIDDLEWARE.
    """

    def middleware(request):
        if not request.META.get("REMOTE_ADDR") and request.META.get("HTTP_X_REAL_IP"):
            request.META["REMOTE_ADDR"] = request.META["HTTP_X_REAL_IP"]
        return get_response(request)

    return middleware


def no_store_for_signed_in_users(get_response):
    """Every page a signed-in user gets may show patient data: no browser or proxy may keep a copy.

    Static files keep their cache headers: WhiteNoise, earlier in MIDDLEWARE, answers them
    before this runs. Goes after AuthenticationMiddleware, which sets request.user.
    """

    def middleware(request):
        response = get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response

    return middleware


def refresh_idle_session(get_response):
    """Keep a signed-in session alive while it is used, with at most one session write a minute.

    The idle timeout (SESSION_COOKIE_AGE) counts from the session's last save. Saving it on every
    request cost a database write per page, and a save that failed after a case had committed
    turned the saved case into an error page. So: only on GET and HEAD, and only when the last
    refresh is CXR_SESSION_REFRESH_SECONDS old. A page's own background poll (header X-CXR-Poll) is not
    someone using it, so it refreshes nothing: an open, unattended page still reaches the idle logout.
    """

    def middleware(request):
        polled = "X-CXR-Poll" in request.headers
        if request.method in ("GET", "HEAD") and request.user.is_authenticated and not polled:
            now = int(time.time())
            if now - request.session.get(REFRESHED_KEY, 0) >= settings.CXR_SESSION_REFRESH_SECONDS:
                request.session[REFRESHED_KEY] = now  # marks the session modified: it is saved
        return get_response(request)

    return middleware


def mark_refreshed_at_login(sender, request, user, **kwargs):
    """`user_logged_in` receiver: logging in saves the session, so it counts as a refresh."""
    if request is not None and hasattr(request, "session"):
        request.session[REFRESHED_KEY] = int(time.time())
