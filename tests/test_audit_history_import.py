"""Migration 0008 moves django-simple-history's rows into the audit trail: nothing is lost."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("cases", "0007_worklist_priority_index")]
AFTER = [("cases", "0008_history_into_audit_trail")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def migrations_reset():
    """Whatever happens in the test, the database ends at the latest migration for the next test."""
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrations_reset")
def test_every_history_row_becomes_one_audit_event_at_its_own_time(staff, clinic):
    old = migrate(BEFORE)
    then = timezone.now() - timedelta(days=30)
    Patient, Case = old.get_model("cases", "Patient"), old.get_model("cases", "Case")
    patient = Patient.objects.create(clinic_id=clinic.pk, mrn="H-1", birth_year=1970, sex="F")
    case = Case.objects.create(clinic_id=clinic.pk, patient=patient, submitted_by_id=staff.pk, symptoms="cough",
                               image_name="a.png", display_name="a.png", image_sha256="a" * 64, image_format="PNG",
                               image_width=256, image_height=256)
    HistoricalCase = old.get_model("cases", "HistoricalCase")
    common = dict(id=case.pk, public_id=case.public_id, created=then, clinic_id=clinic.pk, patient_id=patient.pk,
                  submitted_by_id=staff.pk, image_name="a.png", display_name="a.png", image_sha256="a" * 64,
                  image_format="PNG", image_width=256, image_height=256, status="submitted")
    HistoricalCase.objects.create(history_date=then, history_type="+", history_user_id=staff.pk, symptoms="cough",
                                  **common)
    HistoricalCase.objects.create(history_date=then + timedelta(hours=1), history_type="~", history_user_id=None,
                                  symptoms="cough, fever", **common)
    old.get_model("cases", "HistoricalPatient").objects.create(
        id=patient.pk, public_id=patient.public_id, created=then, clinic_id=clinic.pk, mrn="H-1", birth_year=1970,
        sex="F", history_date=then, history_type="+", history_user_id=staff.pk)
    history_clinic = old.get_model("cases", "HistoricalClinic").objects.create(
        id=clinic.pk, name=clinic.name, code=clinic.code, created=then, history_date=then, history_type="~")
    old.get_model("cases", "HistoricalClinic_members").objects.create(id=1, history=history_clinic,
                                                                      clinic_id=clinic.pk, user_id=staff.pk)

    new = migrate(AFTER)

    AuditEvent = new.get_model("cases", "AuditEvent")
    imported = list(AuditEvent.objects.filter(action="history_imported").order_by("time", "id"))
    assert len(imported) == 4
    by_model = {}
    for event in imported:
        by_model.setdefault(event.details["model"], []).append(event)
    created, changed = by_model["case"]
    assert (created.time, created.actor_id, created.case_id) == (then, staff.pk, case.pk)
    assert created.details["recorded"]["symptoms"] == "cough" and created.details["operation"] == "created"
    assert changed.details["changes"] == {"symptoms": {"before": "cough", "after": "cough, fever"}}
    assert by_model["patient"][0].details["recorded"]["mrn"] == "H-1"
    assert by_model["clinic"][0].details["recorded"]["members"] == ["nurse"]
    assert "cases_historicalcase" not in connection.introspection.table_names()
