"""The audit trail's pages: event list, CSV export and case timeline (the oversight pages share the
section: cases/oversight/views.py).

Administrators and clinic auditors (`can_audit`), each reading the events of the clinics they may see
(`AuditEvent.objects.visible_to`); everyone else gets 403, and anonymous users the login page.
"""

from django.db.models import Max
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.utils.translation import gettext

from ..access import can_audit, clinics_for, role_required
from ..models import AuditEvent, Case
from ..paging import CappedPaginator
from .actors import Actor
from .forms import AuditFilterForm
from .selectors import case_timeline, csv_chunks, events_matching
from .services import record

EVENTS_PER_PAGE = 50
audit_required = role_required(can_audit)


def filters_from(request) -> tuple[AuditFilterForm, dict | None]:
    """The filter form and its filters; None when the filter is not valid."""
    form = AuditFilterForm(request.GET or None, clinics=clinics_for(request.user))
    if not form.is_bound:
        return form, {}
    return form, form.filters() if form.is_valid() else None


@require_GET
@audit_required
def list_events(request):
    form, filters = filters_from(request)
    events = AuditEvent.objects.none() if filters is None else events_matching(viewer=request.user, **filters)
    # Counted only a page past the one shown (a user's week can be 57,000 events): Older/Newer still work.
    page = CappedPaginator(events.select_related("case__patient", "clinic"), EVENTS_PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "audit/events.html", {"form": form, "page": page})


@require_GET
@audit_required
def export_csv(request):
    form, filters = filters_from(request)
    if filters is None:
        return HttpResponseBadRequest(gettext("The filter is not valid."), content_type="text/plain")
    # The export covers the events that existed when it was asked for, not its own record.
    last_id = AuditEvent.objects.visible_to(request.user).aggregate(last=Max("id"))["last"] or 0
    record(AuditEvent.Action.AUDIT_EXPORTED, actor=Actor.of_request(request),
           details={"filters": {name: value for name, value in request.GET.items() if name in form.fields and value}})
    events = events_matching(viewer=request.user, **filters).filter(id__lte=last_id)
    response = StreamingHttpResponse(csv_chunks(events), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


@require_GET
@audit_required
def show_timeline(request, public_id):
    case = get_object_or_404(Case.objects.visible_to(request.user).select_related("patient", "clinic"),
                             public_id=public_id)
    entries, imported = case_timeline(case)
    return render(request, "audit/timeline.html", {"case": case, "entries": entries, "imported": imported})
