"""One patient per patient number in a clinic, whatever its spelling.

Patients are matched by `mrn_key` (NFKC, trimmed, case-folded: cases.text.identifier_key), so
`MRN-123` and `mrn-123` are one patient. Patients created twice before this (one per spelling)
are merged: the oldest record is kept with its number as first entered, the others' cases move
to it, blanks in its demographics are filled from theirs, and each merge is audited. The key's
function is copied here rather than imported, so this migration stays what it was.
"""

import unicodedata

from django.db import migrations, models


def identifier_key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def merge_duplicates(apps, schema_editor):
    Patient, Case = apps.get_model("cases", "Patient"), apps.get_model("cases", "Case")
    AuditEvent = apps.get_model("cases", "AuditEvent")
    groups = {}
    for patient in Patient.objects.order_by("created", "id"):
        patient.mrn_key = identifier_key(patient.mrn)
        patient.save(update_fields=["mrn_key"])
        groups.setdefault((patient.clinic_id, patient.mrn_key), []).append(patient)
    for (clinic_id, _), (kept, *others) in groups.items():
        if not others:
            continue
        merged = []
        for other in others:
            moved = Case.objects.filter(patient=other).update(patient=kept)
            kept.birth_year = kept.birth_year if kept.birth_year is not None else other.birth_year
            kept.sex = other.sex if kept.sex == "U" else kept.sex
            merged.append({"patient": str(other.public_id), "mrn": other.mrn, "cases_moved": moved,
                           "birth_year": other.birth_year, "sex": other.sex})
            other.delete()
        kept.save(update_fields=["birth_year", "sex"])
        AuditEvent.objects.create(action="patients_merged", actor_label="system", clinic_id=clinic_id, details={
            "kept": str(kept.public_id), "mrn": kept.mrn, "merged": merged,
            "reason": "one patient number, several spellings (migration 0010)"})


class Migration(migrations.Migration):
    # Not one transaction: on PostgreSQL the merge's row changes leave deferred foreign-key
    # checks pending, and the constraint's ALTER TABLE cannot run until they have been committed.
    atomic = False

    dependencies = [("cases", "0009_failure_causes")]

    operations = [
        migrations.AddField(model_name="patient", name="mrn_key",
                            field=models.CharField(default="", editable=False, max_length=64), preserve_default=False),
        migrations.RemoveConstraint(model_name="patient", name="unique_mrn_per_clinic"),
        migrations.RunPython(merge_duplicates, migrations.RunPython.noop, atomic=True),
        migrations.AddConstraint(model_name="patient", constraint=models.UniqueConstraint(
            fields=("clinic", "mrn_key"), name="one_patient_per_mrn_in_a_clinic")),
    ]
