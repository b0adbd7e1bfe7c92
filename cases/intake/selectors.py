"""Reads of case lists, always starting from what the user may see (`Case.objects.visible_to`)."""

from django.db.models import QuerySet

from ..models import Case, Prediction
from ..text import identifier_key


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
    """The latest shown prediction that drew a heatmap, if any."""
    return case.predictions.shown().exclude(heatmap_name="").newest_first().first()


def heatmap_name(case: Case) -> str | None:
    """The storage name of the latest prediction's heatmap (its class map), if it drew one."""
    prediction = heatmap_prediction(case)
    return prediction.heatmap_name if prediction is not None else None
