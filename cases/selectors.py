"""Reads of case lists, always starting from what the user may see (cases.access)."""

from django.db.models import QuerySet

from .access import visible_cases
from .models import Case


def case_list_for(user, *, mrn: str = "", status: str = "") -> QuerySet[Case]:
    """The user's visible cases, newest first, narrowed by an MRN fragment and a status."""
    cases = visible_cases(user).select_related("patient", "clinic").order_by("-created", "-id")
    if mrn.strip():
        cases = cases.filter(patient__mrn__icontains=mrn.strip())
    if status in Case.Status.values:
        cases = cases.filter(status=status)
    return cases
