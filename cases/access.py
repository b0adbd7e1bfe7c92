"""The one place that decides who may see which case, and which role may do what.

Every view that touches a case loads it through `case_for`, so an outsider gets the same
404 whether the case exists or not, and the refusal is audited. Which cases a user may see
is the queryset rule `Case.objects.visible_to(user)`; role checks are the `can_*`
functions, and views ask for them with `@role_required(...)`.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .audit.actors import Actor
from .audit.services import record
from .models import SEES_ALL_CLINICS, AuditEvent, Case, Clinic
from .roles import ADMIN_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP  # noqa: F401  (re-exported)


def can_list_cases(user) -> bool:
    return user.has_perm("cases.view_case")


def can_submit(user) -> bool:
    return user.has_perm("cases.add_case")


def can_review(user) -> bool:
    return user.has_perm("cases.add_review")


def can_audit(user) -> bool:
    return user.has_perm("cases.view_auditevent")


def can_retry(user) -> bool:
    """Send failed cases back to the classifier (administrators)."""
    return user.has_perm("cases.retry_case")


def can_manage_models(user) -> bool:
    """Activate model versions and run trials: administrators who audit and may change versions."""
    return can_audit(user) and user.has_perm("classifier.change_modelversion")


def sees_all_clinics(user) -> bool:
    return user.has_perm(SEES_ALL_CLINICS)


def clinics_for(user) -> QuerySet[Clinic]:
    return Clinic.objects.visible_to(user)


def role_required(check):
    """View decorator: 403 unless `check(request.user)`; anonymous users never get here
    (LoginRequiredMiddleware sends them to the login page)."""
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def case_for(request, public_id, *, queryset: QuerySet[Case] | None = None) -> Case:
    """The case if this user may see it; otherwise 404, and an audit event when it exists."""
    cases = Case.objects.visible_to(request.user) if queryset is None else queryset.visible_to(request.user)
    case = cases.filter(public_id=public_id).first()
    if case is not None:
        return case
    hidden = Case.objects.filter(public_id=public_id).select_related("clinic").first()
    if hidden is not None:
        record(AuditEvent.Action.ACCESS_DENIED, actor=Actor.of_request(request), case=hidden,
               details={"path": request.path})
    raise Http404("No such case")
