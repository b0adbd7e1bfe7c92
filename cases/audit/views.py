"""The audit section: event list, CSV export, case timeline and the oversight dashboard.

Administrators only (`can_audit`); everyone else gets 403, and anonymous users the login page.
"""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Max, QuerySet
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from classifier.labels import DISPLAY_NAMES, LABELS
from classifier.models import ModelVersion
from classifier.registry import activate_version, served_version

from ..access import can_audit, can_manage_models, clinics_for, role_required, sees_all_clinics
from ..models import AuditEvent, Case, Clinic
from . import oversight, snapshots
from .clinics import METRICS
from .actors import Actor
from .forms import AuditFilterForm
from .selectors import case_timeline, csv_chunks, events_matching
from .operating_points import proposals
from .services import record
from .trial_oversight import compare_trial

EVENTS_PER_PAGE = 50
audit_required = role_required(can_audit)


def filters_from(request) -> tuple[AuditFilterForm, dict | None]:
    """The filter form and its filters; None when the filter is not valid."""
    form = AuditFilterForm(request.GET or None)
    if not form.is_bound:
        return form, {}
    return form, form.filters() if form.is_valid() else None


@require_GET
@audit_required
def list_events(request):
    form, filters = filters_from(request)
    events = AuditEvent.objects.none() if filters is None else events_matching(**filters)
    page = Paginator(events.select_related("case", "clinic"), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/events.html", {"form": form, "page": page})


@require_GET
@audit_required
def export_csv(request):
    form, filters = filters_from(request)
    if filters is None:
        return HttpResponseBadRequest("The filter is not valid.", content_type="text/plain")
    # The export covers the events that existed when it was asked for, not its own record.
    last_id = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
    record(AuditEvent.Action.AUDIT_EXPORTED, actor=Actor.of_request(request),
           details={"filters": {name: value for name, value in request.GET.items() if name in form.fields and value}})
    events = events_matching(**filters).filter(id__lte=last_id)
    response = StreamingHttpResponse(csv_chunks(events), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@require_GET
@audit_required
def show_timeline(request, public_id):
    case = get_object_or_404(Case.objects.select_related("patient", "clinic"), public_id=public_id)
    entries, imported = case_timeline(case)
    return render(request, "audit/timeline.html", {"case": case, "entries": entries, "imported": imported})


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
    return render_private(request, "audit/oversight.html", {
        "summaries": figures.value.summaries, "labels": [DISPLAY_NAMES[label] for label in LABELS],
        "trials": figures.value.trials, "clinics": visible, "selected": selected, "figures": figures,
        "chart_query": request.GET.urlencode(),
    })


@require_GET
@audit_required
def show_clinic_oversight(request):
    """Each clinic's weekly figures, with the weeks out of their usual range flagged."""
    visible, selected, clinics = oversight_scope(request)
    figures = snapshots.figures("weeks", clinics)
    return render_private(request, "audit/oversight_clinics.html", {
        "per_clinic": figures.value, "metrics": METRICS, "clinics": visible, "selected": selected,
        "figures": figures})


@require_GET
@audit_required
def draw_oversight_chart(request):
    _, _, clinics = oversight_scope(request)
    summaries = snapshots.figures("versions", clinics).value.summaries
    response = HttpResponse(oversight.chart_png(summaries), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required(can_manage_models)
def confirm_activation(request, version_id):
    """The model admin's "activate" lands here: the trial's comparison, then a confirmation.
    The activation's audit event records the comparison the administrator confirmed."""
    version = get_object_or_404(ModelVersion, pk=version_id)
    served = served_version()
    trial = compare_trial(version, served=served) if version.pk != served.pk else None
    if request.method == "POST":
        evidence = {"compared_with": served.name, **trial.comparison.as_details()} if trial else {}
        activate_version(version, user=request.user, evidence=evidence)
        messages.success(request, f"{version.name} is now the active model; workers use it from their next case.")
        return redirect("admin:classifier_modelversion_changelist")
    return render_private(request, "audit/confirm_activation.html", {
        "version": version, "served": served, "trial": trial, "labels": [DISPLAY_NAMES[x] for x in LABELS],
        "pinned": bool(settings.CXR_MODEL_PATH)})


@require_GET
@audit_required
def show_operating_points(request):
    """Each clinic's fitted COVID-19 threshold, proposed beside the one every clinic uses now."""
    visible, selected, clinics = oversight_scope(request)
    return render_private(request, "audit/operating_points.html", {
        "proposals": proposals(visible if clinics is None else clinics), "clinics": visible, "selected": selected,
        "target": settings.CXR_OPERATING_POINT_SENSITIVITY, "minimum": settings.CXR_OPERATING_POINT_MIN_CASES})
