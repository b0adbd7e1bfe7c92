"""Reads for the API, webhooks and FHIR, always from what the caller may see (`Case.objects.visible_to`,
for a user or an integration alike), and the one rule of whether a case's AI result may be shown.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from ..models import ApiToken, AuditEvent, Case, Clinic, Integration, Prediction
from ..validation import selectors as validation

Action = AuditEvent.Action
# The audit events that change what the API shows of a case: "changed since" follows these.
CASE_CHANGES = (Action.CASE_SUBMITTED, Action.STATUS_CHANGED, Action.PREDICTION_WRITTEN, Action.CLASSIFICATION_FAILED,
                Action.CASE_RETRIED, Action.REVIEW_CONFIRMED, Action.REVIEW_OVERRIDDEN, Action.REVIEW_SIGNED,
                Action.REVIEW_AMENDED,
                Action.CASE_EDITED)


def exposed_prediction(case: Case) -> Prediction | None:
    """THE rule for whether the API, FHIR and webhooks show a case's AI result: the prediction they may
    show, or None (no AI result, no `case.predicted` webhook, no AI Observation).

    It is the rule the pages use (`validation.selectors.exposed_prediction`): the latest prediction of the
    served version, never a silent trial's, and only at a clinic live for that version, so that no outside
    system sees a suggestion its clinic's staff may not.
    """
    return validation.exposed_prediction(case)


def cases_for(viewer) -> QuerySet[Case]:
    """The cases a user or an integration may read, with what the API shows of each."""
    return Case.objects.visible_to(viewer).select_related("clinic", "patient", "submitted_via", "received_from")


def clinics_to_submit_to(viewer) -> QuerySet[Clinic]:
    """An integration's clinics; a user's own clinics (as on the new-case form, administrators included)."""
    if isinstance(viewer, Integration):
        return Clinic.objects.visible_to(viewer)
    return viewer.clinics.all()


def caller_key(viewer) -> str:
    """Whose Idempotency-Keys these are: each integration and each user has a key space of its own."""
    return f"integration:{viewer.pk}" if isinstance(viewer, Integration) else f"user:{viewer.pk}"


def token_by_prefix(prefix: str) -> ApiToken | None:
    return ApiToken.objects.select_related("integration").filter(prefix=prefix).first()


@dataclass(frozen=True)
class Changes:
    cases: list[Case]
    cursor: int  # the last audit event these cases include: the next page starts after it


def changed_since(viewer, *, cursor: int, limit: int) -> Changes:
    """The cases whose status, result or details changed after `cursor`, oldest change first.

    The cursor is the id of the audit event that recorded the change (every change is audited, in
    the transaction that makes it). Changes younger than CXR_API_CURSOR_SETTLE_SECONDS wait for the
    next call: ids are handed out before commit, and a cursor must not pass an id still uncommitted.
    A case that changed again after this page's last event comes on a later page, with its newest state.
    """
    settled = timezone.now() - timedelta(seconds=settings.CXR_API_CURSOR_SETTLE_SECONDS)
    rows = list(AuditEvent.objects.filter(pk__gt=cursor, action__in=CASE_CHANGES, time__lte=settled,
                                          case__in=Case.objects.visible_to(viewer))
                .order_by().values("case_id").annotate(last=Max("id")).order_by("last")[:limit])
    by_id = cases_for(viewer).in_bulk([row["case_id"] for row in rows])
    return Changes(cases=[by_id[row["case_id"]] for row in rows], cursor=rows[-1]["last"] if rows else cursor)
