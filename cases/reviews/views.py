"""Radiologist pages: the worklist, reviewing a case, amending a review, and the printable report."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.utils.translation import gettext

from .. import access
from ..access import can_review, role_required
from ..audit.actors import Actor
from ..intake.selectors import earlier_cases
from ..models import Case
from ..paging import count_text
from ..validation.selectors import validating_clinics
from .forms import AmendForm, FirstImpressionForm, ReviewForm, WorklistFilterForm
from .selectors import outcomes_for, result_for, status_counts, with_outcome, worklist_page
from .services import (ReviewConflict, ReviewError, amend_review, first_impression_of, needs_first_impression,
                       record_first_impression, sign_review)

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
        "counts": [(status, name, count_text(counts[status])) for status, name in Case.Status.choices],
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
            message=gettext("Review signed for patient %(mrn)s.") % {"mrn": case.patient.mrn}, then=redirect("cases:worklist"),
            draft=f"review-{case.public_id}")
        if done is not None:
            return done
    return _review_page(request, case, result, form=form, status=400)


@require_POST
@reviewer_required
def record_case_impression(request, public_id):
    """Read-first clinics: keep the radiologist's own finding, then open the AI panel."""
    case = _case(request, public_id)
    form = FirstImpressionForm(request.POST)
    if form.is_valid():
        try:
            record_first_impression(case=case, reader=request.user, finding=form.cleaned_data["finding"],
                                    actor=Actor.of_request(request))
        except ReviewError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, gettext("First impression recorded; the AI suggestion is now shown."))
            return redirect("cases:review", public_id=case.public_id)
    return _review_page(request, case, result_for(case), impression_form=form, status=400)


@require_POST
@reviewer_required
def amend_case_review(request, public_id):
    case = _case(request, public_id)
    result = result_for(case)
    form = AmendForm(request.POST)
    if result.review is None:
        messages.error(request, gettext("There is no signed review to amend."))
        return redirect("cases:review", public_id=case.public_id)
    if form.is_valid():
        if form.cleaned_data["review"] != result.review.pk:
            messages.error(request, gettext("This review was already amended by someone else; here is the current "
                                            "one."))
            return redirect("cases:review", public_id=case.public_id)
        done = _signed(request, case, form, lambda: amend_review(
            review=result.review, reviewer=request.user, finding=form.cleaned_data["finding"],
            note=form.cleaned_data["note"], reason=form.cleaned_data["reason"], actor=Actor.of_request(request)),
            message=gettext("Amendment signed; the earlier review is kept in the history."),
            then=redirect("cases:review", public_id=case.public_id))
        if done is not None:
            return done
    return _review_page(request, case, result, amend_form=form, status=400)


@require_GET
def show_outcomes(request):
    """Polled by open case pages and case lists (static/cxr/status.js): ?id=<uuid>&id=... -> their outcomes."""
    response = JsonResponse({"cases": outcomes_for(request.user, _uuids(request.GET.getlist("id")))})
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def show_report(request, public_id):
    case = _case(request, public_id)
    result = result_for(case)
    return render(request, "cases/report.html", {
        "case": case, "result": result,
        "earlier_reviews": case.reviews.select_related("reviewer").exclude(pk=getattr(result.review, "pk", None)),
    })


def _uuids(values: list[str]) -> list[str]:
    """The well-formed ids among those asked for (a malformed one matches no case anyway)."""
    found = []
    for value in values:
        try:
            found.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return found


def _signed(request, case, form, sign, *, message: str, then, draft: str = ""):
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
    messages.success(request, message, extra_tags=f"draft:{draft}" if draft else "")  # drafts.js drops the note kept
    return then


def _case(request, public_id) -> Case:
    return access.case_for(request, public_id, queryset=Case.objects.select_related("patient", "clinic"))


def _initial(result) -> dict:
    """No finding is chosen in advance, the AI's least of all (automation bias): only the prediction the
    radiologist is looking at (the latest, even when a clinic validating the AI shows nothing of it: a blind
    read), so a newer one arriving meanwhile is noticed."""
    return {} if result.latest_id is None else {"prediction": result.latest_id}


def _review_page(request, case, result, *, form=None, amend_form=None, impression_form=None, status: int = 200):
    """The review page: the signing form while the case awaits review, the amend form once signed.
    In a read-first clinic, a case awaiting review first asks for the radiologist's own impression and
    shows nothing of the AI (panel, heatmap) until it is recorded."""
    awaiting = case.status == Case.Status.PREDICTED and result.latest_id is not None
    if not awaiting:
        form = None
    hide_ai = awaiting and needs_first_impression(case, request.user)
    if hide_ai:
        form, impression_form = None, impression_form or FirstImpressionForm()
    if result.review is not None and amend_form is None:
        amend_form = AmendForm(initial={"finding": result.review.finding, "review": result.review.pk})
    return render(request, "cases/review.html", {
        "case": case, "result": result, "form": form, "amend_form": amend_form,
        "impression_form": impression_form if hide_ai else None, "hide_ai": hide_ai,
        "impression": first_impression_of(case, request.user) if case.clinic.read_first else None,
        "history": case.reviews.select_related("reviewer").order_by("signed_at", "id"),
        "earlier": with_outcome(earlier_cases(case, request.user)),
    }, status=status)
