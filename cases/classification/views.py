"""Live classification status for the case page, and the administrators' retry action."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST
from django.utils.translation import gettext

from ..access import can_retry, case_for, role_required
from ..audit.actors import Actor
from ..models import Case
from ..words import shown
from . import services

FINAL_STATUSES = {Case.Status.PREDICTED, Case.Status.FAILED, Case.Status.REVIEWED, Case.Status.WITHDRAWN}


@require_GET
def show_status(request, public_id):
    """Polled by static/cxr/status.js until the status is final, then the page reloads."""
    case = case_for(request, public_id)
    response = JsonResponse({
        "status": case.status,
        "status_display": case.get_status_display(),
        "final": case.status in FINAL_STATUSES,
        "delayed": services.is_delayed(case),
        "failure_reason": shown(case.failure_reason),  # stored in English (cases/words.py)
        "html": render_to_string("cases/_status.html", {"case": case, "fragment": True}, request=request),
    })
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@role_required(can_retry)
def retry_case(request, public_id):
    case = case_for(request, public_id)
    if services.retry_case(case=case, actor=Actor.of_request(request)):
        messages.success(request, gettext("The case is queued for classification again."))
    else:
        messages.info(request, gettext("The case is not failed any more; nothing to retry."))
    return redirect("cases:case_detail", public_id=case.public_id)
