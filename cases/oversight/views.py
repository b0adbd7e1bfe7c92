"""The oversight pages: each model version against the radiologists, each clinic's weeks, the
per-clinic operating points, and confirming a model activation against its trial.

Administrators only (`can_audit`, and `can_manage_models` to activate); everyone else gets 403,
and anonymous users the login page.
"""

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.utils.translation import gettext

from classifier.labels import DISPLAY_NAMES, LABELS
from classifier.models import ModelVersion

from ..access import can_audit, can_manage_models, clinics_for, role_required, sees_all_clinics
from ..models import Clinic
from . import activation, agreement, snapshots, versions
from .clinics import METRICS

audit_required = role_required(can_audit)


def oversight_scope(request) -> tuple[QuerySet[Clinic], Clinic | None, QuerySet[Clinic] | None]:
    """The clinics this user may see, the one chosen (?clinic=), and the filter for the figures:
    None (every clinic, unfiltered) only for those who see every clinic and chose none."""
    visible = clinics_for(request.user)
    chosen = request.GET.get("clinic", "")
    if not chosen:
        return visible, None, None if sees_all_clinics(request.user) else visible
    if not chosen.isdigit():
        raise Http404("No such clinic")
    selected = get_object_or_404(visible, pk=chosen)
    return visible, selected, visible.filter(pk=selected.pk)


def render_private(request, template: str, context: dict) -> HttpResponse:
    response = render(request, template, context)
    response["Cache-Control"] = "private, no-store"  # links to patients' cases
    return response


@require_GET
@audit_required
def show_oversight(request):
    """Each model version, and each version on trial against the served one."""
    visible, selected, clinics = oversight_scope(request)
    figures = snapshots.figures("versions", clinics)
    return render_private(request, "oversight/oversight.html", {
        "summaries": figures.value.summaries, "labels": [gettext(DISPLAY_NAMES[label]) for label in LABELS],
        "trials": figures.value.trials, "clinics": visible, "selected": selected, "figures": figures,
        "chart_query": request.GET.urlencode(), "agreement_definition": agreement.DEFINITION,
    })


@require_GET
@audit_required
def show_clinic_oversight(request):
    """Each clinic's weekly figures, with the weeks out of their usual range flagged."""
    visible, selected, clinics = oversight_scope(request)
    figures = snapshots.figures("weeks", clinics)
    return render_private(request, "oversight/oversight_clinics.html", {
        "per_clinic": figures.value, "metrics": METRICS, "clinics": visible, "selected": selected,
        "figures": figures, "agreement_definition": agreement.DEFINITION})


@require_GET
@audit_required
def draw_oversight_chart(request):
    _, _, clinics = oversight_scope(request)
    summaries = snapshots.figures("versions", clinics).value.summaries
    response = HttpResponse(versions.chart_png(summaries), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required(can_manage_models)
def confirm_activation(request, version_id):
    """The model admin's "activate" lands here: the trial's health and comparison, then a confirmation
    that posts a digest of them; the audit records them only if they are still what was shown."""
    version = get_object_or_404(ModelVersion, pk=version_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            activation.confirm_activation(version=version, shown_digest=request.POST.get("evidence", ""),
                                          against_acknowledged=bool(request.POST.get("against_acknowledged")),
                                          user=request.user)
        except activation.ActivationRefused as refused:
            evidence, error, status = refused.evidence, str(refused), refused.status
        else:
            messages.success(request, gettext("%(version)s is now the active model; workers use it from their next "
                                              "case.") % {"version": version.name})
            return redirect("admin:classifier_modelversion_changelist")
    else:
        evidence = activation.activation_evidence(version)
    response = render_private(request, "oversight/confirm_activation.html", {
        "version": version, "evidence": evidence, "served": evidence.served, "trial": evidence.trial,
        "health": evidence.health, "error": error, "labels": [gettext(DISPLAY_NAMES[x]) for x in LABELS],
        "pinned": bool(settings.CXR_MODEL_PATH), "bound": settings.CXR_TRIAL_MAX_FAILURE_PERCENT})
    response.status_code = status
    return response


@require_GET
@audit_required
def show_operating_points(request):
    """Each clinic's fitted COVID-19 threshold, proposed beside the one every clinic uses now."""
    visible, selected, clinics = oversight_scope(request)
    figures = snapshots.figures("points", clinics)
    return render_private(request, "oversight/operating_points.html", {
        "proposals": figures.value, "figures": figures, "clinics": visible, "selected": selected,
        "target": settings.CXR_OPERATING_POINT_SENSITIVITY, "minimum": settings.CXR_OPERATING_POINT_MIN_CASES})
