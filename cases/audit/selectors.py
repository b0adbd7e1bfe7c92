"""Reading the audit trail: filtered event lists, a case's timeline and the CSV export."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from ..models import PATIENT_EDIT_ACTIONS, AuditEvent, Case, Clinic

# "what" and "patient" come last, so that a reader of the earlier columns by position still finds them.
CSV_COLUMNS = ["time", "actor", "action", "case", "clinic", "ip_address", "details", "what", "patient"]
CSV_CHUNK_ROWS = 2000
# Spreadsheets run a cell that starts with one of these as a formula; usernames tried at
# login are attacker-chosen, so such cells are exported with a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The audit trail's actions in words (`action_words`), marked here: the codes stay English in the database.
ACTION_WORDS = {
    "case_submitted": gettext_noop("Case submitted"),
    "image_viewed": gettext_noop("Image viewed"),
    "prediction_written": gettext_noop("Prediction written"),
    "status_changed": gettext_noop("Status changed"),
    "classification_failed": gettext_noop("Classification failed"),
    "case_retried": gettext_noop("Case retried"),
    "review_confirmed": gettext_noop("Review confirmed"),
    "review_overridden": gettext_noop("Review overridden"),
    "review_signed": gettext_noop("Review signed"),
    "review_amended": gettext_noop("Review amended"),
    "first_impression_recorded": gettext_noop("First impression recorded"),
    "case_withdrawn": gettext_noop("Case withdrawn"),
    "case_image_replaced": gettext_noop("Case image replaced"),
    "case_edited": gettext_noop("Case edited"),
    "user_changed": gettext_noop("User changed"),
    "group_changed": gettext_noop("Group changed"),
    "clinic_changed": gettext_noop("Clinic changed"),
    "model_activated": gettext_noop("Model activated"),
    "login_succeeded": gettext_noop("Login succeeded"),
    "login_failed": gettext_noop("Login failed"),
    "access_denied": gettext_noop("Access denied"),
    "audit_exported": gettext_noop("Audit exported"),
    "files_swept": gettext_noop("Files swept"),
    "patients_merged": gettext_noop("Patients merged"),
    "dicom_association": gettext_noop("Dicom association"),
    "dicom_instance_received": gettext_noop("Dicom instance received"),
    "dicom_result_sent": gettext_noop("Dicom result sent"),
    "dicom_result_failed": gettext_noop("Dicom result failed"),
    "dicom_result_downloaded": gettext_noop("Dicom result downloaded"),
    "trial_changed": gettext_noop("Trial changed"),
    "trial_prediction_written": gettext_noop("Trial prediction written"),
    "trial_failed": gettext_noop("Trial failed"),
    "trial_rescoring_started": gettext_noop("Trial rescoring started"),
    "model_fault": gettext_noop("Model fault"),
    "clinic_ai_state_changed": gettext_noop("Clinic ai state changed"),
    "clinic_flagged": gettext_noop("Clinic flagged"),
    "integration_changed": gettext_noop("Integration changed"),
    "api_token_issued": gettext_noop("Api token issued"),
    "api_token_revoked": gettext_noop("Api token revoked"),
    "api_token_used": gettext_noop("Api token used"),
    "webhook_secret_issued": gettext_noop("Webhook secret issued"),
    "webhook_delivered": gettext_noop("Webhook delivered"),
    "webhook_failed": gettext_noop("Webhook failed"),
    "webhook_redelivered": gettext_noop("Webhook redelivered"),
    "notification_sent": gettext_noop("Notification sent"),
    "notification_failed": gettext_noop("Notification failed"),
    "history_imported": gettext_noop("History imported"),
}


def start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def events_matching(*, viewer, user: str = "", clinic: Clinic | None = None, case: str | None = None,
                    action: str = "", since: date | None = None, until: date | None = None) -> QuerySet[AuditEvent]:
    """The events `viewer` may read, filtered by any combination of fields; dates are whole days, `until`
    included."""
    events = AuditEvent.objects.visible_to(viewer)
    if user:
        # The name recorded at the time, or the account's current name if it was renamed since. The
        # account's id is read first: a subquery inside the OR would keep PostgreSQL from combining
        # the two user indexes (it filters every event of the period instead).
        accounts = list(User.objects.filter(username=user).values_list("id", flat=True))
        events = events.filter(Q(actor_label=user) | Q(actor_id__in=accounts))
    if clinic is not None:
        events = events.filter(clinic=clinic)
    if case:
        events = events.filter(case__public_id=case)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(time__gte=start_of_day(since))
    if until is not None:
        events = events.filter(time__lt=start_of_day(until + timedelta(days=1)))
    return events


def action_words(action: str) -> str:
    """'review_overridden' -> 'Review overridden': the audit trail in words, on the page and in the CSV, in the
    reader's language; an unknown code is shown as it is."""
    if action in ACTION_WORDS:
        return gettext(ACTION_WORDS[action])
    try:
        return AuditEvent.Action(action).label.capitalize()  # an action added without its words: still readable
    except ValueError:
        return action


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_chunks(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV text, a few thousand rows per chunk.

    `.values_list().iterator()` streams rows from the database (a server-side cursor on
    PostgreSQL) without building model instances or caching the queryset, so memory stays
    flat however many rows match.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    # The details as the database's JSON text: decoding and re-encoding each row would double the cost.
    rows = events.annotate(details_text=Cast("details", TextField())).values_list(
        "time", "actor_label", "action", "case__public_id", "clinic__code", "ip_address", "details_text",
        "case__patient__mrn")
    for count, (when, actor, action, case, clinic, ip, details, mrn) in enumerate(
            rows.iterator(chunk_size=CSV_CHUNK_ROWS), start=1):
        writer.writerow([when.isoformat(), safe_cell(actor), action, case or "", clinic or "", ip or "",
                         safe_cell(details), action_words(action), safe_cell(mrn)])
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@dataclass
class TimelineEntry:
    time: datetime
    actor: str
    what: str
    details: dict = field(default_factory=dict)


def case_events(case: Case) -> QuerySet[AuditEvent]:
    """Every event about a case and its patient, oldest first, rows imported from the earlier
    change tracker included (they repeat what the events of their time already say)."""
    patient_edits = Q(details__model="patient", details__object=str(case.patient.public_id),
                      action__in=PATIENT_EDIT_ACTIONS)
    return AuditEvent.objects.filter(Q(case=case) | patient_edits).order_by("time", "id")


def case_timeline(case: Case) -> tuple[list[TimelineEntry], int]:
    """The case's changes, each once, oldest first; and how many imported tracker rows exist
    (listed in the event list, filtered by case and action, rather than repeated here)."""
    entries, imported = [], 0
    for event in case_events(case):
        if event.action == AuditEvent.Action.HISTORY_IMPORTED:
            imported += 1
            continue
        entries.append(TimelineEntry(event.time, event.actor_label, event.action, event.details))
    return entries, imported
