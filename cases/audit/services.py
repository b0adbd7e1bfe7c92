"""Writing audit events: the one path. Call `record` inside the transaction of the change."""

from ..models import AuditEvent
from .actors import Actor


def record(action: AuditEvent.Action, *, actor: Actor, case=None, clinic=None,
           details: dict | None = None) -> AuditEvent:
    """One event for one change; an action that is not an `AuditEvent.Action` is refused."""
    if clinic is None and case is not None:
        clinic = case.clinic
    return AuditEvent.objects.create(
        action=AuditEvent.Action(action),
        actor=actor.user,
        actor_label=actor.label,
        case=case,
        clinic=clinic,
        ip_address=actor.address,
        details=details or {},
    )
