"""Case intake and the pages around it: home, case list, new case, case page, images."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .. import storage
from ..access import can_list_cases, can_review, can_submit, case_for, role_required
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Case
from ..dicom.selectors import results_of
from ..reviews.selectors import result_for, with_outcome
from .forms import CaseForm
from .selectors import case_list_for, earlier_cases, heatmap_name
from .services import StorageUnavailable, submit_case

STORAGE_DOWN = ("The image could not be stored just now, so nothing was saved. Try again in a few minutes; "
                "if it keeps happening, tell your administrator.")

CASES_PER_PAGE = 25
OFFLINE_VERSION = "1"  # change with the service worker's behaviour: the old cache is dropped
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".dcm": "application/dicom"}


@require_GET
def show_home(request):
    """Each role starts where its work is."""
    if can_review(request.user) and not can_submit(request.user):
        return redirect("cases:worklist")
    return redirect("cases:case_list")


@require_GET
@role_required(can_list_cases)
def list_cases(request):
    mrn, status = request.GET.get("mrn", ""), request.GET.get("status", "")
    page = Paginator(with_outcome(case_list_for(request.user, mrn=mrn, status=status)), CASES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "cases/case_list.html", {
        "page": page, "mrn": mrn, "status": status, "statuses": Case.Status.choices,
    })


@require_http_methods(["GET", "POST"])
@role_required(can_submit)
def new_case(request):
    clinics = request.user.clinics.all()
    form = CaseForm(request.POST or None, request.FILES or None, clinics=clinics)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            case = submit_case(actor=Actor.of_request(request), clinic=form.cleaned_data["clinic"],
                               details=form.details(), upload=form.cleaned_data["image"])
        except StorageUnavailable:
            form.add_error(None, STORAGE_DOWN)
            status = 503
        else:
            messages.success(request, "Case submitted.")
            return redirect("cases:case_detail", public_id=case.public_id)
    return render(request, "cases/case_new.html", {
        "form": form, "has_clinic": clinics.exists(),
        # The resumable upload names the clinic by its code, as the API does (SubmissionForm).
        "clinic_codes": {str(clinic.pk): clinic.code for clinic in clinics},
    }, status=status)


OFFLINE_ASSETS = ("bootstrap/css/bootstrap.min.css", "cxr/site.css", "cxr/favicon.svg", "bootstrap/js/bootstrap.bundle.min.js",
                  "cxr/idle.js", "cxr/forms.js", "cxr/outbox_store.js", "cxr/logout.js", "cxr/case_new.js",
                  "vendor/tus-js-client/tus.min.js", "cxr/offline_store.js", "cxr/case_upload.js", "cxr/outbox.js")


@require_GET
@role_required(can_submit)
def offline_worker(request):
    """The service worker that keeps the new-case form and the outbox usable offline (its scope is /cases/)."""
    response = render(request, "cases/offline_sw.js", {"assets": OFFLINE_ASSETS, "version": OFFLINE_VERSION},
                      content_type="text/javascript")
    response["Cache-Control"] = "no-cache"  # a new version is picked up at the next visit
    return response


@require_GET
@role_required(can_submit)
def show_outbox(request):
    """This browser's submissions (kept in the browser itself, static/cxr/outbox_store.js): the page is a frame."""
    return render(request, "cases/outbox.html")


@require_GET
def show_case(request, public_id):
    case = case_for(request, public_id, queryset=Case.objects.select_related("patient", "clinic"))
    return render(request, "cases/case_detail.html", {
        "case": case, "result": result_for(case), "dicom_results": list(results_of(case)),
        "patient_cases": earlier_cases(case, request.user),
    })


@require_GET
def show_image(request, public_id, kind):
    case = case_for(request, public_id)
    return image_response(case=case, kind=kind, heatmap=heatmap_name(case) if kind == "heatmap" else None,
                          actor=Actor.of_request(request))


def image_response(*, case: Case, kind: str, heatmap: str | None, actor: Actor) -> FileResponse:
    """Patient images leave the server only here (for the pages and the API): for a case the caller may
    see, audited, never cached. `heatmap` is the storage name of the heatmap the caller may be shown."""
    name = {"display": case.display_name, "original": case.image_name, "heatmap": heatmap}.get(kind)
    if not name:
        raise Http404("No such image")
    record(AuditEvent.Action.IMAGE_VIEWED, actor=actor, case=case, details={"kind": kind})
    suffix = name[name.rindex("."):]
    response = FileResponse(
        storage.open_file(name), content_type=IMAGE_TYPES[suffix],
        as_attachment=kind == "original", filename=f"case-{case.public_id}-{kind}{suffix}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
