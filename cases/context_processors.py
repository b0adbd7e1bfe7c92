from django.conf import settings

from . import access


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "can_submit": access.can_submit(user),
        "can_review": access.can_review(user),
        "can_audit": access.can_audit(user),
        "can_retry": access.can_retry(user),
        "live_refresh_ms": settings.CXR_LIVE_REFRESH_SECONDS * 1000,
    }
