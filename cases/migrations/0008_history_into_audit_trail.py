"""One change tracker: django-simple-history's rows move into the append-only audit trail.

The audit events already hold every change with its before and after; the history tables
repeated them (one admin edit showed twice in a case timeline). Each history row becomes one
`history_imported` event at its original time, with the object's recorded fields and what
changed since the object's previous row, so nothing it recorded is lost. Then its tables go.
Reversing recreates the (empty) tables; the imported events stay, as audit events always do.
"""

from django.db import migrations, models

SOURCES = {  # history model -> (model name, name field, fields recorded)
    "HistoricalClinic": ("clinic", "code", ("name", "code")),
    "HistoricalPatient": ("patient", "public_id", ("clinic_id", "mrn", "birth_year", "sex")),
    "HistoricalCase": ("case", "public_id", (
        "clinic_id", "patient_id", "submitted_by_id", "symptoms", "onset_date", "spo2", "notes", "view", "urgent",
        "status", "attempts", "failure_reason", "image_name", "display_name", "image_sha256", "image_format",
        "image_width", "image_height", "original_filename")),
}
OPERATIONS = {"+": "created", "~": "updated", "-": "deleted"}


def plain(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def history_events(apps, history_name: str, AuditEvent, usernames: dict) -> list:
    model, name_field, fields = SOURCES[history_name]
    History = apps.get_model("cases", history_name)
    events, previous = [], {}
    for row in History.objects.order_by("history_date", "history_id").iterator():
        values = {field.removesuffix("_id"): plain(getattr(row, field)) for field in fields}
        before = previous.get(row.id)
        changes = {key: {"before": before[key], "after": value}
                   for key, value in values.items() if before is not None and before[key] != value}
        previous[row.id] = values
        clinic_id = row.id if model == "clinic" else row.clinic_id
        if history_name == "HistoricalClinic":
            members = apps.get_model("cases", "HistoricalClinic_members").objects.filter(history=row)
            values["members"] = sorted(usernames.get(m.user_id, str(m.user_id)) for m in members)
        events.append(AuditEvent(
            time=row.history_date, actor_id=row.history_user_id, actor_label=usernames.get(row.history_user_id, ""),
            action="history_imported", case_id=row.id if model == "case" else None, clinic_id=clinic_id,
            details={"model": model, "object": plain(getattr(row, name_field)),
                     "operation": OPERATIONS[row.history_type], "recorded": values, "changes": changes,
                     "history_id": row.history_id, "change_reason": row.history_change_reason},
        ))
    return events


def import_history(apps, schema_editor):
    AuditEvent = apps.get_model("cases", "AuditEvent")
    AuditEvent._meta.get_field("time").auto_now_add = False  # keep each row's own time (this class only)
    Case, Clinic = apps.get_model("cases", "Case"), apps.get_model("cases", "Clinic")
    usernames = dict(apps.get_model("auth", "User").objects.values_list("id", "username"))
    existing = {"case": set(Case.objects.values_list("id", flat=True)),
                "clinic": set(Clinic.objects.values_list("id", flat=True))}
    for history_name in SOURCES:
        events = history_events(apps, history_name, AuditEvent, usernames)
        for event in events:  # a deleted object's row keeps its id in the details only
            if event.case_id not in existing["case"] | {None}:
                event.case_id = None
            if event.clinic_id not in existing["clinic"] | {None}:
                event.clinic_id = None
        AuditEvent.objects.bulk_create(events, batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0007_worklist_priority_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(import_history, migrations.RunPython.noop),
        migrations.DeleteModel(name="HistoricalClinic_members"),
        migrations.DeleteModel(name="HistoricalCase"),
        migrations.DeleteModel(name="HistoricalPatient"),
        migrations.DeleteModel(name="HistoricalClinic"),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(choices=[
                ("case_submitted", "Case Submitted"), ("image_viewed", "Image Viewed"),
                ("prediction_written", "Prediction Written"), ("status_changed", "Status Changed"),
                ("classification_failed", "Classification Failed"), ("case_retried", "Case Retried"),
                ("review_confirmed", "Review Confirmed"), ("review_overridden", "Review Overridden"),
                ("review_amended", "Review Amended"), ("case_edited", "Case Edited"),
                ("user_changed", "User Changed"), ("group_changed", "Group Changed"),
                ("clinic_changed", "Clinic Changed"), ("model_activated", "Model Activated"),
                ("login_succeeded", "Login Succeeded"), ("login_failed", "Login Failed"),
                ("access_denied", "Access Denied"), ("audit_exported", "Audit Exported"),
                ("history_imported", "History Imported")], db_index=True, max_length=40),
        ),
    ]
