"""The one place that decides who may see which case.

Every view that touches a case loads it through `case_for`, so an outsider gets the same
404 whether the case exists or not, and the refusal is audited.
"""

from django.db.models import QuerySet
from django.http import Http404

from .audit import record
from .models import Case, Clinic
from .roles import ADMIN_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP  # noqa: F401  (re-exported)


def can_submit(user) -> bool:
    return user.has_perm("cases.add_case")


def can_review(user) -> bool:
    return user.has_perm("cases.add_review")


def can_audit(user) -> bool:
    return user.has_perm("cases.view_auditevent")


def sees_all_clinics(user) -> bool:
    return user.has_perm("cases.view_all_clinics")


def clinics_for(user) -> QuerySet[Clinic]:
    if sees_all_clinics(user):
        return Clinic.objects.all()
    return user.clinics.all()


def visible_cases(user) -> QuerySet[Case]:
    if sees_all_clinics(user):
        return Case.objects.all()
    return Case.objects.filter(clinic__in=user.clinics.all())


def case_for(request, public_id, *, queryset: QuerySet[Case] | None = None) -> Case:
    """The case if this user may see it; otherwise 404, and an audit event when it exists."""
    cases = visible_cases(request.user) if queryset is None else queryset
    case = cases.filter(public_id=public_id).first()
    if case is not None:
        return case
    hidden = Case.objects.filter(public_id=public_id).first()
    if hidden is not None:
        record(request=request, action="access_denied", case=hidden, details={"path": request.path})
    raise Http404("No such case")
