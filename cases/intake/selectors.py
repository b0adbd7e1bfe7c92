"""Reads of case lists, always starting from what the user may see (`Case.objects.visible_to`)."""

from django.db.models import QuerySet

from ..models import Case
from ..text import identifier_key
from ..validation.selectors import exposed_prediction


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


def heatmap_name(case: Case) -> str | None:
    """The storage name of the heatmap of the prediction people may see, if it drew one."""
    prediction = exposed_prediction(case)
    return prediction.heatmap_name or None if prediction is not None and prediction.gate_passed else None
