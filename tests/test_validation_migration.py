"""Upgrading to local validation: every clinic starts silent, so the worklist columns of existing cases, which
hold only suggestions people may see, are emptied; the predictions keep every figure."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import model_version

BEFORE = [("cases", "0025_offline")]
AFTER = [("cases", "0026_localval")]


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


@pytest.mark.local_validation
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrations_reset")
def test_existing_suggestions_leave_the_worklist_columns_and_stay_on_their_predictions(staff, clinic):
    old = migrate(BEFORE)
    Patient, Case = old.get_model("cases", "Patient"), old.get_model("cases", "Case")
    Prediction = old.get_model("cases", "Prediction")
    patient = Patient.objects.create(clinic_id=clinic.pk, mrn="H-1", mrn_key="H1", birth_year=1970, sex="F")
    version = model_version("old-v1")  # the classifier app is not migrated back: its current model serves
    case = Case.objects.create(clinic_id=clinic.pk, patient=patient, submitted_by_id=staff.pk, symptoms="cough",
                               image_name="a.png", display_name="a.png", image_sha256="a" * 64, image_format="PNG",
                               image_width=256, image_height=256, status="predicted", predicted_label="covid",
                               covid_probability=0.9)
    Prediction.objects.create(case=case, model_version_id=version.pk, label="covid", inference_ms=1.0,
                              probabilities={"covid": 0.9, "normal": 0.05, "viral_pneumonia": 0.05})
    new = migrate(AFTER)
    after = new.get_model("cases", "Case").objects.get(pk=case.pk)
    assert (after.predicted_label, after.covid_probability, after.covid_priority) == ("", None, False)
    kept = new.get_model("cases", "Prediction").objects.get(case_id=case.pk)
    assert (kept.label, kept.probabilities["covid"], kept.covid_threshold) == ("covid", 0.9, None)
    assert not new.get_model("cases", "ClinicAIState").objects.exists()  # every clinic silent
