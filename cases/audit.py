"""Writing audit events. Call `record` inside the transaction of the change it records."""

from .models import AuditEvent


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR") if request is not None else None


def record(*, action: str, request=None, actor=None, actor_label: str = "", case=None, clinic=None,
           details: dict | None = None) -> AuditEvent:
    request_user = getattr(request, "user", None)  # authenticate() may pass a bare HttpRequest
    if actor is None and request_user is not None and request_user.is_authenticated:
        actor = request_user
    if actor is not None and not actor_label:
        actor_label = actor.get_username()
    if clinic is None and case is not None:
        clinic = case.clinic
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label,
        action=action,
        case=case,
        clinic=clinic,
        ip_address=client_ip(request),
        details=details or {},
    )
