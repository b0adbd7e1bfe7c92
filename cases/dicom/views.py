"""A received case's page extras: completing its clinical details, and downloading its DICOM results
(access-checked, audited, never cached)."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.utils.translation import gettext

from .. import storage
from ..access import can_submit, case_for, role_required
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent
from .forms import CLINICAL_FIELDS, ClinicalDetailsForm
from .selectors import results_of
from .services import complete_details

KINDS = {"report": "report_name", "capture": "capture_name"}


@require_GET
def download_result(request, public_id, result_id: int, kind: str):
    case = case_for(request, public_id)
    result = results_of(case).filter(pk=result_id).first()
    name = getattr(result, KINDS[kind], "") if result is not None and kind in KINDS else ""
    if not name:
        raise Http404("No such result")
    record(AuditEvent.Action.DICOM_RESULT_DOWNLOADED, actor=Actor.of_request(request), case=case,
           details={"result": result.key, "kind": kind})
    response = FileResponse(storage.open_file(name), content_type="application/dicom", as_attachment=True,
                            filename=f"case-{case.public_id}-{result.key}-{kind}.dcm")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required(can_submit)
def complete_case_details(request, public_id):
    case = case_for(request, public_id)
    if case.received_from_id is None:
        raise Http404("Only a case received over DICOM is completed here")
    form = ClinicalDetailsForm(request.POST or None, initial={name: getattr(case, name) for name in CLINICAL_FIELDS})
    if request.method == "POST" and form.is_valid():
        complete_details(case=case, details=form.cleaned_data)
        messages.success(request, gettext("Clinical details saved."))
        return redirect("cases:case_detail", public_id=case.public_id)
    response = render(request, "cases/case_complete.html", {"case": case, "form": form})
    response["Cache-Control"] = "private, no-store"
    return response
