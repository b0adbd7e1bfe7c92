"""An X-ray unit sends studies over the DICOM network: dcmtk's storescu against `manage.py dicom_listener`,
with a real Redis and worker, so a received film is classified like one from the form."""

import subprocess
from pathlib import Path

import pydicom
import pytest
from django.urls import reverse
from pydicom import uid

from cases import storage
from cases.models import AuditEvent, Case, DicomNode, Patient, Prediction
from cxrsite.testing.dicomnet import Listener, send_with_storescu
from cxrsite.testing.dicoms import dicom_bytes, jpeg2000_dicom_bytes, jpeg_dicom_bytes
from cxrsite.testing.images import chest_like_array
from cxrsite.testing.stack import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]


@pytest.fixture(scope="module")
def listener(stack):
    running = Listener(stack.config).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def node(clinic):
    return DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)


def film(tmp_path: Path, name: str = "chest.dcm", data: bytes | None = None, **extra) -> Path:
    path = tmp_path / name
    path.write_bytes(data if data is not None else dicom_bytes(chest_like_array(256, seed=3), patient_id="R-501",
                                                               view_position="AP", extra=extra))
    return path


def stored_files(stack) -> list[Path]:
    return [p for p in stack.storage_dir.rglob("*") if p.is_file()] if stack.storage_dir.exists() else []


def predicted(case: Case) -> Case:
    wait_for(lambda: Case.objects.get(pk=case.pk).status in (Case.Status.PREDICTED, Case.Status.FAILED),
             timeout=60, interval=0.1, what="the received case to be classified")
    return Case.objects.get(pk=case.pk)


def outcomes() -> list[str]:
    return list(AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_INSTANCE_RECEIVED)
                .order_by("id").values_list("details__outcome", flat=True))


def test_a_dx_instance_sent_with_storescu_becomes_a_case_of_the_nodes_clinic_and_is_predicted_once(
        listener, node, clinic, staff, client, tmp_path):
    sent = send_with_storescu([film(tmp_path, PatientSex="F", PatientBirthDate="19610304")], port=listener.port,
                              calling="XRAY1")
    assert sent.returncode == 0, sent.stderr + listener.log()

    case = predicted(Case.objects.get())
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert (case.clinic, case.received_from, case.submitted_by, case.view) == (clinic, node, None, Case.View.AP)
    assert (case.patient.mrn, case.patient.sex, case.patient.birth_year) == ("R-501", "F", 1961)
    assert Prediction.objects.filter(case=case).count() == 1
    association = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_ASSOCIATION)
    assert (association.details["outcome"], association.clinic, association.actor_label) == (
        "accepted", clinic, "dicom:XRAY1")
    received = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_INSTANCE_RECEIVED)
    assert received.case == case and received.details["sop_instance_uid"] == case.sop_instance_uid
    client.force_login(staff)
    assert "Received from X-ray room 1 (XRAY1)" in client.get(reverse("cases:case_detail",
                                                                      args=[case.public_id])).content.decode()


def test_the_same_instance_sent_again_creates_nothing_and_answers_success(listener, node, stack, tmp_path):
    path = film(tmp_path)
    assert send_with_storescu([path], port=listener.port, calling="XRAY1").returncode == 0
    predicted(Case.objects.get())
    files = stored_files(stack)

    again = send_with_storescu([path], port=listener.port, calling="XRAY1")

    assert again.returncode == 0 and "Received Store Response (Success)" in again.stderr, again.stderr
    assert Case.objects.count() == 1 and Patient.objects.count() == 1 and Prediction.objects.count() == 1
    assert stored_files(stack) == files
    assert outcomes() == ["stored", "duplicate"]


@pytest.mark.parametrize("calling, host", [("STRANGER", "127.0.0.1"), ("XRAY1", "10.20.30.40")],
                         ids=["unknown AE title", "known AE title from another address"])
def test_an_unregistered_sender_is_rejected_at_association(listener, clinic, tmp_path, calling, host):
    DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host=host, clinic=clinic)

    sent = send_with_storescu([film(tmp_path)], port=listener.port, calling=calling)

    assert sent.returncode != 0 and "Association Rejected" in sent.stderr
    assert Case.objects.count() == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_ASSOCIATION)
    assert (event.details["outcome"], event.details["node"], event.ip_address) == ("rejected", calling, "127.0.0.1")


def test_a_node_that_may_not_send_is_rejected_too(listener, node, tmp_path):
    DicomNode.objects.filter(pk=node.pk).update(may_send=False)
    assert "Association Rejected" in send_with_storescu([film(tmp_path)], port=listener.port, calling="XRAY1").stderr
    assert Case.objects.count() == 0


def test_a_dataset_without_pixel_data_gets_a_failure_status_and_leaves_nothing_behind(listener, node, stack,
                                                                                      tmp_path):
    report_like = film(tmp_path, data=dicom_bytes(None, patient_id="R-501"))
    files = stored_files(stack)

    sent = send_with_storescu([report_like], port=listener.port, calling="XRAY1")

    assert sent.returncode != 0 and "Received Store Response (Error: CannotUnderstand)" in sent.stderr, sent.stderr
    assert Case.objects.count() == 0 and Patient.objects.count() == 0 and stored_files(stack) == files
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_INSTANCE_RECEIVED)
    assert event.details["outcome"] == "rejected" and "no pixel data" in event.details["reason"]
    assert "no pixel data" in listener.log()


COMPRESSED = {  # storescu's option that proposes the syntax, so the film travels compressed
    "JPEG baseline": (lambda pixels: jpeg_dicom_bytes(pixels, patient_id="R-777"), "-xy", uid.JPEGBaseline8Bit),
    "JPEG 2000 lossless": (lambda pixels: jpeg2000_dicom_bytes(pixels, patient_id="R-777"), "-xv",
                           uid.JPEG2000Lossless),
    "RLE lossless": (lambda pixels: dicom_bytes(pixels, syntax=uid.RLELossless, patient_id="R-777"), "-xr",
                     uid.RLELossless),
}


@pytest.mark.parametrize("name", COMPRESSED)
def test_a_compressed_instance_is_received_as_sent_and_classified(listener, node, tmp_path, name):
    encode, option, syntax = COMPRESSED[name]
    compressed = film(tmp_path, data=encode(chest_like_array(256, seed=5)))

    sent = send_with_storescu([compressed], port=listener.port, calling="XRAY1", options=(option,))

    assert sent.returncode == 0 and "Received Store Response (Success)" in sent.stderr, sent.stderr
    case = predicted(Case.objects.get())
    assert case.status == Case.Status.PREDICTED and case.patient.mrn == "R-777"
    assert (case.image_format, case.image_width, case.image_height) == ("DICOM", 256, 256)
    with storage.open_file(case.image_name) as original:
        assert pydicom.dcmread(original).file_meta.TransferSyntaxUID == syntax  # not converted on the way


def test_an_image_of_a_class_other_than_cr_dx_or_secondary_capture_is_not_taken(listener, node, stack, tmp_path):
    files = stored_files(stack)
    ct = film(tmp_path, SOPClassUID=uid.CTImageStorage, Modality="CT")

    sent = send_with_storescu([ct], port=listener.port, calling="XRAY1")

    assert sent.returncode != 0 and "No presentation context for: (CT)" in sent.stderr, sent.stderr
    assert Case.objects.count() == 0 and stored_files(stack) == files


def test_c_echo_from_a_registered_node_succeeds_and_from_a_stranger_fails(listener, node):
    echo = ["echoscu", "-aec", "CXRTRIAGE", "127.0.0.1", str(listener.port)]
    assert subprocess.run([*echo, "-aet", "XRAY1"], capture_output=True, timeout=30).returncode == 0
    assert subprocess.run([*echo, "-aet", "STRANGER"], capture_output=True, timeout=30).returncode != 0

