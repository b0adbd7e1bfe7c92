"""The DICOM results of a case, downloaded from its page: access-checked, audited, never cached."""

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from .. import storage
from ..access import case_for
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent
from .selectors import results_of

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
