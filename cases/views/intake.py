"""Case intake and the pages around it: home, case list, new case, case page, images."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from .. import audit, storage
from ..access import can_review, can_submit, case_for, visible_cases
from ..forms import CaseForm
from ..models import Case
from ..selectors import case_list_for
from ..services import submit_case

CASES_PER_PAGE = 25
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".dcm": "application/dicom"}


@require_GET
def home(request):
    """Each role starts where its work is."""
    if can_review(request.user) and not can_submit(request.user):
        try:
            return redirect(reverse("cases:worklist"))
        except NoReverseMatch:  # the review feature is not installed
            pass
    return redirect("cases:case_list")


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_list(request):
    mrn, status = request.GET.get("mrn", ""), request.GET.get("status", "")
    page = Paginator(case_list_for(request.user, mrn=mrn, status=status), CASES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "cases/case_list.html", {
        "page": page, "mrn": mrn, "status": status, "statuses": Case.Status.choices,
    })


@require_http_methods(["GET", "POST"])
@permission_required("cases.add_case", raise_exception=True)
def case_new(request):
    clinics = request.user.clinics.all()
    form = CaseForm(request.POST or None, request.FILES or None, clinics=clinics)
    if request.method == "POST" and form.is_valid():
        case = submit_case(request=request, clinic=form.cleaned_data["clinic"], details=form.details(),
                           image=form.decoded, data=form.image_bytes, filename=form.cleaned_data["image"].name)
        messages.success(request, "Case submitted.")
        return redirect("cases:case_detail", public_id=case.public_id)
    return render(request, "cases/case_new.html", {"form": form, "has_clinic": clinics.exists()})


@require_GET
def case_detail(request, public_id):
    case = case_for(request, public_id, queryset=visible_cases(request.user).select_related("patient", "clinic"))
    earlier = visible_cases(request.user).filter(patient=case.patient).exclude(pk=case.pk).order_by("-created")
    return render(request, "cases/case_detail.html", {"case": case, "patient_cases": earlier})


@require_GET
def image(request, public_id, kind):
    """Patient images leave the server only here: access-checked, audited, never cached."""
    case = case_for(request, public_id)
    name = _image_name(case, kind)
    audit.record(request=request, action="image_viewed", case=case, details={"kind": kind})
    suffix = name[name.rindex("."):]
    response = FileResponse(
        storage.open_file(name), content_type=IMAGE_TYPES[suffix],
        as_attachment=kind == "original", filename=f"case-{case.public_id}-{kind}{suffix}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _image_name(case: Case, kind: str) -> str:
    if kind == "display":
        return case.display_name
    if kind == "original":
        return case.image_name
    if kind == "heatmap":
        prediction = case.predictions.exclude(heatmap_name="").first()
        if prediction is not None:
            return prediction.heatmap_name
    raise Http404("No such image")
