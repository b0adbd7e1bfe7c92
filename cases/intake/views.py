"""Case intake and the pages around it: home, case list, new case, case page, images."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.utils.translation import gettext, gettext_noop

from .. import storage
from ..access import can_list_cases, can_review, can_submit, case_for, role_required
from ..audit.actors import Actor
from ..audit.services import record
from ..classification.composites import heatmap_composite
from ..models import AuditEvent, Case, Prediction
from ..dicom.selectors import results_of
from ..reviews.selectors import result_for, with_outcome
from .display import display_name_of
from .forms import CaseForm, ReplaceImageForm
from .selectors import case_filed_with, case_list_for, earlier_cases, heatmap_prediction, same_image_lately
from .services import (CaseNotRefused, StorageUnavailable, replace_case_image, submit_form_case,
                       withdraw_case)

STORAGE_DOWN = gettext_noop("The image could not be stored just now, so nothing was saved. Try again in a few "
                            "minutes; if it keeps happening, tell your administrator.")

CASES_PER_PAGE = 25
OFFLINE_VERSION = "3"  # change with the service worker's behaviour or its assets' (2: the film in one PATCH; 3: the translations kept offline): the old cache is dropped
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".dcm": "application/dicom"}
# "heatmap": the film with the heatmap burned in (the printed report, the API); "class-map": the map
# the review page's viewer colours and scales itself (before issue 31: that same composite).
HEATMAP_KINDS = ("heatmap", "class-map")


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
    status, duplicate = 200, None
    # One key per form shown (a hidden field): Back, then Submit sends it again and is answered with the case.
    key = _key(request.POST.get("submission_key")) if request.method == "POST" else str(uuid.uuid4())
    if request.method == "POST":
        filed = case_filed_with(request.user, key)
        if filed is not None:
            return render(request, "cases/case_filed.html", {"case": filed}, status=409)
    if request.method == "POST" and form.is_valid():
        duplicate = None if request.POST.get("file_again") else same_image_lately(
            request.user, clinic=form.cleaned_data["clinic"], mrn=form.cleaned_data["mrn"],
            sha256=storage.sha256_of(form.cleaned_data["image"].data))
        if duplicate is not None:
            status = 409
        else:
            try:
                case, _ = submit_form_case(actor=Actor.of_request(request), clinic=form.cleaned_data["clinic"],
                                           details=form.details(), upload=form.cleaned_data["image"],
                                           submission_key=key)
            except StorageUnavailable:
                form.add_error(None, gettext(STORAGE_DOWN))
                status = 503
            else:
                # The tag tells static/cxr/drafts.js that the draft kept of this form is done with.
                messages.success(request, gettext("Case submitted."), extra_tags="draft:case-new")
                return redirect("cases:case_detail", public_id=case.public_id)
    return render(request, "cases/case_new.html", {
        "form": form, "has_clinic": clinics.exists(), "duplicate": duplicate, "submission_key": key,
        # The resumable upload names the clinic by its code, as the API does (SubmissionForm).
        "clinic_codes": {str(clinic.pk): clinic.code for clinic in clinics},
    }, status=status)


def _key(value) -> str:
    """A well-formed submission key, or "" (a malformed one was never issued)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return ""


OFFLINE_ASSETS = ("bootstrap/css/bootstrap.min.css", "cxr/site.css", "cxr/favicon.svg", "bootstrap/js/bootstrap.bundle.min.js",
                  "cxr/idle.js", "cxr/drafts.js", "cxr/forms.js", "cxr/outbox_store.js", "cxr/logout.js", "cxr/case_new.js",
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
    return _case_page(request, _case(request, public_id))


def _case(request, public_id) -> Case:
    return case_for(request, public_id, queryset=Case.objects.select_related("patient", "clinic", "replaced_by"))


def _case_page(request, case: Case, *, replace_form=None, status: int = 200):
    return render(request, "cases/case_detail.html", {
        "case": case, "result": result_for(case), "dicom_results": list(results_of(case)),
        "patient_cases": earlier_cases(case, request.user), "replaces": Case.objects.visible_to(request.user).filter(replaced_by=case).first(),
        "replace_form": replace_form or ReplaceImageForm(),
    }, status=status)


@require_POST
@role_required(can_submit)
def withdraw_refused_case(request, public_id):
    case = _case(request, public_id)
    try:
        withdraw_case(case=case, actor=Actor.of_request(request))
    except CaseNotRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, gettext("Case withdrawn: it has left the radiologists' worklist. It is kept, "
                                          "with its image."))
    return redirect("cases:case_detail", public_id=case.public_id)


@require_POST
@role_required(can_submit)
def replace_refused_image(request, public_id):
    """A better image for a refused film: filed as a new case; the first is kept, withdrawn."""
    case = _case(request, public_id)
    form = ReplaceImageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            new = replace_case_image(case=case, actor=Actor.of_request(request), upload=form.cleaned_data["image"])
        except CaseNotRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("cases:case_detail", public_id=case.public_id)
        except StorageUnavailable:
            form.add_error(None, gettext(STORAGE_DOWN))
        else:
            messages.success(request, gettext("The new image was filed as a new case; the first one is kept, "
                                              "withdrawn."))
            return redirect("cases:case_detail", public_id=new.public_id)
    return _case_page(request, case, replace_form=form, status=400)


@require_GET
def show_image(request, public_id, kind):
    case = case_for(request, public_id)
    return image_response(case=case, kind=kind, heatmap=heatmap_prediction(case) if kind in HEATMAP_KINDS else None,
                          actor=Actor.of_request(request))


def image_response(*, case: Case, kind: str, heatmap: Prediction | None, actor: Actor) -> FileResponse:
    """Patient images leave the server only here (for the pages and the API): for a case the caller may
    see, audited, never cached. `heatmap` is the prediction whose heatmap the caller may be shown."""
    name = stored_image_name(case, kind, heatmap)
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


def stored_image_name(case: Case, kind: str, heatmap: Prediction | None) -> str | None:
    if kind in HEATMAP_KINDS:
        if heatmap is None:
            return None
        return heatmap_composite(heatmap) if kind == "heatmap" else heatmap.heatmap_name
    if kind == "display":
        return display_name_of(case)
    return {"original": case.image_name}.get(kind)
