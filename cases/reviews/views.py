"""Radiologist pages: the worklist, reviewing a case, amending a review, and the printable report."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import access
from ..access import can_review, role_required
from ..audit.actors import Actor
from ..intake.selectors import earlier_cases
from ..models import Case
from ..validation.selectors import validating_clinics
from .forms import AmendForm, ReviewForm, WorklistFilterForm
from .selectors import result_for, status_counts, with_outcome, worklist_page
from .services import ReviewConflict, ReviewError, amend_review, sign_review

reviewer_required = role_required(can_review)


@require_GET
@reviewer_required
def show_worklist(request):
    form = WorklistFilterForm(request.GET or None, initial={"status": Case.Status.PREDICTED},
                              clinics=access.clinics_for(request.user))
    filters = form.filters()
    counts = status_counts(request.user)
    page = worklist_page(request.user, filters=filters, page_number=request.GET.get("page"), counts=counts)
    return render(request, "cases/worklist.html", {
        "form": form, "page": page, "filters": filters, "threshold": settings.CXR_COVID_PRIORITY_THRESHOLD,
        "counts": [(status, name, counts[status]) for status, name in Case.Status.choices],
        "validating": validating_clinics(access.clinics_for(request.user)),
    })


@require_http_methods(["GET", "POST"])
@reviewer_required
def review_case(request, public_id):
    case = _case(request, public_id)
    result = result_for(case)
    if request.method == "GET":
        return _review_page(request, case, result, form=ReviewForm(initial=_initial(result)))
    form = ReviewForm(request.POST)
    if form.is_valid():
        done = _signed(request, case, form, lambda: sign_review(
            case=case, reviewer=request.user, finding=form.cleaned_data["finding"], note=form.cleaned_data["note"],
            prediction_id=form.cleaned_data["prediction"], actor=Actor.of_request(request)),
            message=f"Review signed for patient {case.patient.mrn}.", then=redirect("cases:worklist"))
        if done is not None:
            return done
    return _review_page(request, case, result, form=form, status=400)


@require_POST
@reviewer_required
def amend_case_review(request, public_id):
    case = _case(request, public_id)
    result = result_for(case)
    form = AmendForm(request.POST)
    if result.review is None:
        messages.error(request, "There is no signed review to amend.")
        return redirect("cases:review", public_id=case.public_id)
    if form.is_valid():
        if form.cleaned_data["review"] != result.review.pk:
            messages.error(request, "This review was already amended by someone else; here is the current one.")
            return redirect("cases:review", public_id=case.public_id)
        done = _signed(request, case, form, lambda: amend_review(
            review=result.review, reviewer=request.user, finding=form.cleaned_data["finding"],
            note=form.cleaned_data["note"], reason=form.cleaned_data["reason"], actor=Actor.of_request(request)),
            message="Amendment signed; the earlier review is kept in the history.",
            then=redirect("cases:review", public_id=case.public_id))
        if done is not None:
            return done
    return _review_page(request, case, result, amend_form=form, status=400)


@require_GET
def show_report(request, public_id):
    case = _case(request, public_id)
    return render(request, "cases/report.html", {
        "case": case, "result": result_for(case), "history": case.reviews.select_related("reviewer"),
    })


def _signed(request, case, form, sign, *, message: str, then):
    """Call a signing service: `then` on success, back to the case when someone signed first,
    None (show the form again with the error) when the review cannot be signed as asked."""
    try:
        sign()
    except ReviewConflict as conflict:
        messages.error(request, str(conflict))
        return redirect("cases:review", public_id=case.public_id)
    except ReviewError as error:
        form.add_error(None, str(error))
        return None
    messages.success(request, message)
    return then


def _case(request, public_id) -> Case:
    return access.case_for(request, public_id, queryset=Case.objects.select_related("patient", "clinic"))


def _initial(result) -> dict:
    """The form starts on the AI suggestion; a human read, or a blind read while validating, on nothing."""
    if result.latest_id is None:
        return {}
    if result.suggestion is None:
        return {"prediction": result.latest_id}
    return {"finding": result.suggestion.label, "prediction": result.latest_id}


def _review_page(request, case, result, *, form=None, amend_form=None, status: int = 200):
    """The review page: the signing form while the case awaits review, the amend form once signed."""
    if case.status != Case.Status.PREDICTED or result.latest_id is None:
        form = None
    if result.review is not None and amend_form is None:
        amend_form = AmendForm(initial={"finding": result.review.finding, "review": result.review.pk})
    return render(request, "cases/review.html", {
        "case": case, "result": result, "form": form, "amend_form": amend_form,
        "history": case.reviews.select_related("reviewer").order_by("signed_at", "id"),
        "earlier": with_outcome(earlier_cases(case, request.user)),
    }, status=status)
