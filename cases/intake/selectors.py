"""Reads of case lists, always starting from what the user may see (`Case.objects.visible_to`)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Case, IdempotencyKey, Prediction
from ..text import identifier_key
from ..validation.selectors import exposed_prediction

FORM_KEY_PREFIX = "form:"  # the new-case form's submission keys, beside the API's Idempotency-Keys


def form_caller(user) -> str:
    """A user's key space (the one their API Idempotency-Keys use too)."""
    return f"user:{user.pk}"


def case_filed_with(user, submission_key) -> Case | None:
    """The case this user's new-case form, shown once with this key, already filed (Back, then Submit)."""
    if not submission_key:
        return None
    bound = IdempotencyKey.objects.filter(caller=form_caller(user), key=f"{FORM_KEY_PREFIX}{submission_key}").first()
    return Case.objects.visible_to(user).filter(pk=bound.case_id).first() if bound else None


def same_image_lately(user, *, clinic, mrn: str, sha256: str) -> Case | None:
    """A case of this patient with the very same image, filed within CXR_DUPLICATE_IMAGE_MINUTES."""
    since = timezone.now() - timedelta(minutes=settings.CXR_DUPLICATE_IMAGE_MINUTES)
    return Case.objects.visible_to(user).filter(
        clinic=clinic, patient__mrn_key=identifier_key(mrn), image_sha256=sha256, created__gte=since,
    ).select_related("patient").newest_first().first()


def case_list_for(user, *, mrn: str = "", status: str = "") -> QuerySet[Case]:
    """The user's visible cases, newest first, narrowed by an MRN fragment and a status."""
    cases = Case.objects.visible_to(user).select_related("patient", "clinic").newest_first()
    if mrn.strip():
        cases = cases.filter(patient__mrn_key__contains=identifier_key(mrn))
    if status in Case.Status.values:
        cases = cases.filter(status=status)
    return cases


def earlier_cases(case: Case, user) -> QuerySet[Case]:
    """The patient's other cases this user may see, newest first."""
    return Case.objects.visible_to(user).filter(patient=case.patient).exclude(pk=case.pk).newest_first()


def heatmap_prediction(case: Case) -> Prediction | None:
    """The prediction people may see (`validation.selectors.exposed_prediction`), if it is a suggestion that drew a
    heatmap (a refused or uncertain film has none to show, nor has a clinic validating the AI)."""
    prediction = exposed_prediction(case)
    return prediction if prediction is not None and prediction.gives_suggestion and prediction.heatmap_name else None


def heatmap_name(case: Case) -> str | None:
    """The storage name of the heatmap (its class map) of the prediction people may see, if it drew one."""
    prediction = heatmap_prediction(case)
    return prediction.heatmap_name if prediction is not None else None
