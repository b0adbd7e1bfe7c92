"""The case status machine: which moves exist, and the one function that makes them.

Every move is a compare-and-set UPDATE on Case.status (and, when asked, on `status_changed`), so
two deliveries of one message, a worker killed half-way, a reaper beside a worker, or two
radiologists signing at once can never move a case twice. Classification, the reaper and reviews
all move cases through `transition`, inside the transaction that writes what the move is about.
"""

from django.utils import timezone

from .audit.actors import Actor
from .audit.services import record
from .models import AuditEvent, Case

Status = Case.Status

# (from, to): when. A move not listed here is a bug, refused before anything is written.
MOVES = {
    (Status.SUBMITTED, Status.QUEUED): "queued after the case is committed (or again by the reaper)",
    (Status.QUEUED, Status.SUBMITTED): "the broker was unreachable; the reaper queues it again",
    (Status.QUEUED, Status.CLASSIFYING): "a worker claims it",
    (Status.CLASSIFYING, Status.QUEUED): "a fault of the environment, or the worker died (the reaper)",
    (Status.CLASSIFYING, Status.PREDICTED): "the prediction is written",
    (Status.CLASSIFYING, Status.FAILED): "the image cannot be classified, or the worker died too often",
    (Status.QUEUED, Status.FAILED): "the reaper gives up after too many rounds of environmental faults",
    (Status.FAILED, Status.QUEUED): "an administrator retries it",
    (Status.PREDICTED, Status.REVIEWED): "a radiologist signs the review",
    (Status.PREDICTED, Status.WITHDRAWN): "the clinic withdraws a film the input gate refused, or sends a better one",
}


def transition(case_id: int, *, source: str, target: str, actor: Actor, details: dict | None = None,
               expected_changed=None, audited: bool = True, **fields) -> Case | None:
    """Move the case from `source` to `target` if it is still in `source`, and audit it.

    Call inside a transaction. Returns the updated case, or None when another process moved
    it first (0 rows updated), in which case nothing is written. With `expected_changed` the
    case must also still carry that `status_changed`, so a stale reading never moves it.
    `audited=False` is for a caller whose own event records the move in the same transaction
    (a signed review is its review_confirmed, review_overridden or review_signed event), so a change is audited once.
    """
    if (source, target) not in MOVES:
        raise ValueError(f"a case does not move from {source} to {target}")
    still = {"status_changed": expected_changed} if expected_changed is not None else {}
    moved = Case.objects.filter(pk=case_id, status=source, **still).update(
        status=target, status_changed=timezone.now(), **fields
    )
    if not moved:
        return None
    case = Case.objects.select_related("clinic").get(pk=case_id)
    if audited:
        record(AuditEvent.Action.STATUS_CHANGED, actor=actor, case=case,
               details={"from": source, "to": target, **(details or {})})
    return case
