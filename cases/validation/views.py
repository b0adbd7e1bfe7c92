"""The local-validation pages: every clinic's AI state and readiness, and one clinic's evidence with the
go-live confirmation and the pause. Administrators and a clinic's own auditor (`can_audit`, and the clinic
among those they may see: others get 404)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.utils.translation import gettext

from classifier.registry import served_version

from ..access import can_audit, clinics_for, role_required
from ..audit.actors import Actor
from . import selectors, services
from .evidence import CLINIC, GLOBAL, evidence_for, reliability_png

audit_required = role_required(can_audit)


def private(response):
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@audit_required
def show_validation(request):
    version = served_version()
    rows = [(clinic, selectors.ai_state(clinic, version), evidence_for(clinic, version))
            for clinic in clinics_for(request.user)]
    return private(render(request, "validation/clinics.html", {"version": version, "rows": rows}))


@require_http_methods(["GET", "POST"])
@audit_required
def confirm_clinic(request, clinic_id):
    """The evidence, "ready" or what is missing, and the confirmation: live at the global or the clinic's own
    threshold (posting the digest of the figures shown), or pause."""
    clinic = get_object_or_404(clinics_for(request.user), pk=clinic_id)
    version, error, status = served_version(), "", 200
    if request.method == "POST":
        actor = Actor.of_request(request)
        try:
            if request.POST.get("action") == "pause":
                if not services.pause_clinic(clinic=clinic, actor=actor, user=request.user,
                                             reason=request.POST.get("reason", "")):
                    raise services.StateChangeRefused(gettext("%(clinic)s is not live.") % {"clinic": clinic.name})
                messages.success(request, gettext("%(clinic)s is paused: its staff and radiologists see no AI "
                                                  "suggestion from their next page.") % {"clinic": clinic.name})
            else:
                services.go_live(clinic=clinic, version=version, choice=request.POST.get("choice", ""),
                                 shown_digest=request.POST.get("evidence", ""), actor=actor, user=request.user)
                messages.success(request, gettext("%(clinic)s is live for %(version)s.") % {
                    "clinic": clinic.name, "version": version.name})
            return redirect("audit:validation_clinic", clinic_id=clinic.pk)
        except services.StateChangeRefused as refused:
            error, status = str(refused), 409
    response = render(request, "validation/clinic.html", {
        "clinic": clinic, "version": version, "state": selectors.ai_state(clinic, version),
        "row": selectors.state_row(clinic.pk, version.pk), "evidence": evidence_for(clinic, version),
        "error": error, "GLOBAL": GLOBAL, "CLINIC": CLINIC}, status=status)
    return private(response)


@require_GET
@audit_required
def draw_reliability(request, clinic_id):
    clinic = get_object_or_404(clinics_for(request.user), pk=clinic_id)
    response = HttpResponse(reliability_png(evidence_for(clinic, served_version())), content_type="image/png")
    return private(response)
