"""A received instance goes through the web form's intake path; staff complete its clinical details later.

The network side is in test_dicom_receiver.py (storescu against the listener); here the service and
the page are called directly, so the rules are checked case by case.
"""

import pytest
from django.urls import reverse

from cases.dicom.services import CANNOT_UNDERSTAND, SUCCESS, receive_instance
from cases.models import AuditEvent, Case, DicomNode, Patient
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, png_bytes
from tests.factories import make_case
from tests.test_intake_upload import stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(clinic):
    return DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)


def film(**kwargs) -> bytes:
    header = {"patient_id": "R-1", "view_position": "LL", **kwargs.pop("header", {})}
    return dicom_bytes(chest_like_array(256), extra=kwargs, **header)


def test_a_received_instance_takes_patient_sex_birth_year_and_view_from_its_header(node, clinic,
                                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        received = receive_instance(node=node, data=film(PatientSex="M", PatientBirthDate="19880212"),
                                    address="127.0.0.1")
    case = received.case
    assert (received.status, received.outcome) == (SUCCESS, "stored")
    assert (case.patient.mrn, case.patient.sex, case.patient.birth_year, case.view) == ("R-1", "M", 1988, "LAT")
    assert (case.clinic, case.received_from, case.submitted_by) == (clinic, node, None)
    assert len(callbacks) == 1  # classification is queued once, after the commit
    submitted = AuditEvent.objects.get(action=AuditEvent.Action.CASE_SUBMITTED)
    assert (submitted.case, submitted.actor_label, submitted.ip_address) == (case, "dicom:XRAY1", "127.0.0.1")


def test_the_patient_number_is_normalised_as_the_form_does_and_joins_the_returning_patient(node, clinic):
    Patient.objects.create(clinic=clinic, mrn="R-1", birth_year=1970, sex="F")
    case = receive_instance(node=node, data=film(header={"patient_id": "  R-1 "}, PatientSex="M"),
                            address="127.0.0.1").case
    assert Patient.objects.count() == 1 and case.patient.mrn == "R-1"
    assert (case.patient.sex, case.patient.birth_year) == ("F", 1970)  # what an earlier visit recorded stays


@pytest.mark.parametrize("patient_id, what", [
    ("R-\x00501", "a NUL character (U+0000)"),
    ("R-50\x071", "a control character (U+0007)"),
    ("R-\u202e105", "a text-direction mark (U+202E)"),
    ("R-\u200b501", "a zero-width character (U+200B)"),
], ids=["NUL", "control", "bidi", "zero-width"])
def test_a_patient_id_with_an_invisible_character_is_refused_saying_which(node, patient_id, what):
    data = film(header={"patient_id": patient_id}, SpecificCharacterSet="ISO_IR 192")

    received = receive_instance(node=node, data=data, address="127.0.0.1")

    assert (received.status, received.outcome) == (CANNOT_UNDERSTAND, "rejected")
    assert received.reason == f"The PatientID has {what}." and len(received.reason) <= 64  # an ErrorComment
    assert Case.objects.count() == 0 and Patient.objects.count() == 0


@pytest.mark.parametrize("data, reason", [
    (dicom_bytes(chest_like_array(256), patient_id=""), "no PatientID"),
    (dicom_bytes(chest_like_array(64)), "at least 128 pixels"),
    (dicom_bytes(None), "no pixel data"),
    (png_bytes(), "could not be read"),
], ids=["no patient id", "too small", "no pixel data", "not DICOM"])
def test_an_instance_that_fails_the_checks_answers_a_failure_and_leaves_nothing(node, settings, data, reason):
    received = receive_instance(node=node, data=data, address="127.0.0.1")
    assert (received.status, received.outcome) == (CANNOT_UNDERSTAND, "rejected") and reason in received.reason
    assert Case.objects.count() == 0 and Patient.objects.count() == 0 and stored_files(settings) == []
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_INSTANCE_RECEIVED)
    assert event.details["outcome"] == "rejected" and reason in event.details["reason"]


def test_a_resent_instance_answers_success_and_creates_nothing(node, settings):
    data = film()
    first = receive_instance(node=node, data=data, address="127.0.0.1")
    files = stored_files(settings)
    again = receive_instance(node=node, data=data, address="127.0.0.1")
    assert (again.status, again.outcome, again.case) == (SUCCESS, "duplicate", first.case)
    assert Case.objects.count() == 1 and stored_files(settings) == files


@pytest.fixture
def received_case(node):
    return receive_instance(node=node, data=film(), address="127.0.0.1").case


def details_url(case) -> str:
    return reverse("cases:case_complete", args=[case.public_id])


def test_staff_complete_the_clinical_details_of_a_received_case_and_the_change_is_audited(client, staff,
                                                                                          received_case):
    client.force_login(staff)
    assert "Complete the clinical details" in client.get(
        reverse("cases:case_detail", args=[received_case.public_id])).content.decode()
    response = client.post(details_url(received_case), {"symptoms": "fever, cough", "spo2": "91", "urgent": "on"})
    assert response.status_code == 302
    received_case.refresh_from_db()
    assert (received_case.symptoms, received_case.spo2, received_case.urgent) == ("fever, cough", 91, True)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CASE_EDITED)
    assert event.actor == staff and event.details["changes"]["spo2"] == {"before": None, "after": 91}


def test_the_details_form_keeps_the_intake_limits(client, staff, received_case):
    client.force_login(staff)
    response = client.post(details_url(received_case), {"spo2": "20"})
    assert response.status_code == 200 and "greater than or equal to 50" in response.content.decode()
    assert Case.objects.get().spo2 is None


def test_outsiders_get_404_radiologists_403_and_a_form_case_is_not_completed_here(
        client, other_staff, radiologist, staff, received_case, clinic):
    client.force_login(other_staff)
    assert client.get(details_url(received_case)).status_code == 404
    client.force_login(radiologist)
    assert client.get(details_url(received_case)).status_code == 403
    client.force_login(staff)
    assert client.put(details_url(received_case)).status_code == 405
    assert client.get(details_url(make_case(clinic, staff))).status_code == 404


def test_an_administrator_registers_a_node_in_the_admin_and_one_that_receives_results_needs_a_port(
        client, administrator, clinic):
    client.force_login(administrator)
    form = {"name": "PACS", "ae_title": "PACS1", "host": "10.0.0.5", "clinic": clinic.pk, "receives_results": "on"}
    refused = client.post(reverse("admin:cases_dicomnode_add"), form)
    assert refused.status_code == 200 and "A node that receives results needs a port." in refused.content.decode()
    assert client.post(reverse("admin:cases_dicomnode_add"), {**form, "port": "104"}).status_code == 302
    node = DicomNode.objects.get()
    assert (node.clinic, node.port, node.receives_results, node.may_send) == (clinic, 104, True, False)
