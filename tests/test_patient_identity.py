"""One patient, one record: patient numbers are normalised once, and invisible characters refused."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from cases.models import AuditEvent, Case, Patient
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, png_bytes
from tests.test_intake_upload import assert_nothing_left, submit


@pytest.fixture
def logged_in(client, staff):
    client.force_login(staff)
    return client


def test_mrn_123_and_MRN_123_are_one_patient_shown_as_first_entered(logged_in, clinic):
    assert submit(logged_in, clinic, png_bytes(seed=1), mrn="MRN-123").status_code == 302
    assert submit(logged_in, clinic, png_bytes(seed=2), mrn=" mrn-123 ").status_code == 302
    assert submit(logged_in, clinic, png_bytes(seed=3), mrn="ＭＲＮ-123").status_code == 302  # full-width, NFKC
    patient = Patient.objects.get()
    assert (patient.mrn, patient.cases.count()) == ("MRN-123", 3)
    latest = Case.objects.newest_first().first()
    page = logged_in.get(reverse("cases:case_detail", args=[latest.public_id]))
    assert len(page.context["patient_cases"]) == 2  # "Earlier cases" lists the other two


def test_a_dicoms_patient_id_matches_the_same_number_typed_in_another_case(logged_in, clinic):
    assert submit(logged_in, clinic, png_bytes(seed=4), mrn="mrn-123").status_code == 302
    dicom = dicom_bytes(chest_like_array(256).astype("uint16") * 16, patient_id="MRN-123")
    assert submit(logged_in, clinic, dicom, "film.dcm", mrn="").status_code == 302
    assert Patient.objects.count() == 1 and Patient.objects.get().cases.count() == 2


def test_a_patient_number_with_a_bidi_override_is_refused_with_a_message(logged_in, clinic, settings):
    response = submit(logged_in, clinic, png_bytes(), mrn="ABC\u202eFED")
    assert response.status_code == 200
    assert "invisible or control characters" in response.content.decode()
    assert_nothing_left(settings)


def test_bidi_overrides_are_stripped_from_free_text_but_line_breaks_kept(logged_in, clinic):
    submit(logged_in, clinic, png_bytes(), symptoms="cough\u202e for 3 days\nfever", notes="\u2066seen\u2069 twice")
    case = Case.objects.get()
    assert (case.symptoms, case.notes) == ("cough for 3 days\nfever", "seen twice")


def test_a_symptom_onset_in_the_future_is_refused(logged_in, clinic, settings):
    response = submit(logged_in, clinic, png_bytes(), onset_date="2999-01-01")
    assert "The symptom onset cannot be in the future." in response.content.decode()
    assert_nothing_left(settings)


def test_the_case_list_finds_a_patient_by_any_spelling_of_the_number(logged_in, clinic):
    submit(logged_in, clinic, png_bytes(), mrn="MRN-123")
    page = logged_in.get(reverse("cases:case_list"), {"mrn": "mrn-12"})
    assert [case.patient.mrn for case in page.context["page"]] == ["MRN-123"]


@pytest.mark.django_db(transaction=True)
def test_patients_created_twice_before_are_merged_into_the_oldest_and_audited(staff, clinic):
    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    old = migrate([("cases", "0009_failure_causes")])
    try:
        Patient_, Case_ = old.get_model("cases", "Patient"), old.get_model("cases", "Case")
        first = Patient_.objects.create(clinic_id=clinic.pk, mrn="MRN-5", sex="U")
        second = Patient_.objects.create(clinic_id=clinic.pk, mrn="mrn-5", birth_year=1950, sex="M")
        other = Patient_.objects.create(clinic_id=clinic.pk, mrn="MRN-6", sex="F")
        for patient in (first, second, second, other):
            Case_.objects.create(clinic_id=clinic.pk, patient=patient, submitted_by_id=staff.pk, image_name="a.png",
                                 display_name="a.png", image_sha256="a" * 64, image_format="PNG", image_width=256,
                                 image_height=256)
    finally:  # on to the latest migrations, as the other tests expect
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    kept = Patient.objects.get(mrn_key="mrn-5")
    assert (kept.pk, kept.mrn, kept.birth_year, kept.sex) == (first.pk, "MRN-5", 1950, "M")
    assert kept.cases.count() == 3 and Patient.objects.count() == 2
    merge = AuditEvent.objects.get(action="patients_merged")
    assert merge.details["kept"] == str(kept.public_id)
    assert [(m["mrn"], m["cases_moved"]) for m in merge.details["merged"]] == [("mrn-5", 2)]


def test_a_far_future_audit_date_is_a_form_error_not_a_server_error(client, administrator):
    client.force_login(administrator)
    page = client.get(reverse("audit:events"), {"until": "9999-12-31"})
    assert page.status_code == 200 and page.context["form"].errors["until"]
    assert client.get(reverse("audit:export"), {"until": "9999-12-31"}).status_code == 400
