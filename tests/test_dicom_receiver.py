"""An X-ray unit sends studies over the DICOM network: dcmtk's storescu against `manage.py dicom_listener`,
with a real Redis and worker, so a received film is classified like one from the form."""

import re
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest
from django.urls import reverse
from pydicom import uid

from cases import storage
from cases.models import AuditEvent, Case, DicomNode, Patient, Prediction
from cxrsite.testing.dicomnet import Listener, send_with_storescu
from cxrsite.testing.dicoms import dicom_bytes, jpeg2000_dicom_bytes, jpeg_dicom_bytes, write_large_dicom
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



# Hostile peers (issue 28): each test has a listener of its own, stopped by the test where the audit
# trail's per-minute tallies must be written out.
@pytest.fixture
def own_listener(stack):
    running = Listener(stack.config).start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def idle_connections(port: int, count: int):
    """`count` TCP connections to the listener that never send a byte, each opened again as soon as the
    listener closes it, for as long as the block runs (at most a minute)."""
    stop, opened = threading.Event(), []

    def hold():
        sockets = []
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            sockets = [sock for sock in sockets if _still_open(sock)]
            while len(sockets) < count:
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                opened.append(1)
            stop.wait(0.05)
        for sock in sockets:
            sock.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    wait_for(lambda: len(opened) >= count, timeout=10, what=f"{count} idle connections")
    try:
        yield opened
    finally:
        stop.set()
        holder.join(10)


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""  # data from a listener that speaks first would also mean "open"
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def answered_within(seconds: float, command: list[str]) -> subprocess.CompletedProcess | None:
    """The finished dcmtk command, or None if it had no answer within `seconds` (the issue's bound: about
    ten times what an echo or a store of a small film takes here)."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def association_events(**details) -> list[dict]:
    return [event.details | {"ip": event.ip_address} for event in
            AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_ASSOCIATION, **{
                f"details__{key}": value for key, value in details.items()}).order_by("id")]


def test_with_64_idle_connections_from_its_address_a_registered_unit_echoes_and_stores_within_2_seconds(
        own_listener, node, tmp_path):
    echo = ["echoscu", "-aet", "XRAY1", "-aec", "CXRTRIAGE", "127.0.0.1", str(own_listener.port)]
    store = ["storescu", "-aet", "XRAY1", "-aec", "CXRTRIAGE", "127.0.0.1", str(own_listener.port), str(film(tmp_path))]

    with idle_connections(own_listener.port, 64):
        time.sleep(1)  # every idle connection has been accepted and is waiting
        echoed, stored = answered_within(2, echo), answered_within(2, store)
    own_listener.stop()  # writes out the minute's tally

    assert echoed is not None and echoed.returncode == 0, echoed and echoed.stderr
    assert stored is not None and stored.returncode == 0, stored and stored.stderr
    assert Case.objects.count() == 1
    dropped = association_events(outcome="dropped")
    assert 1 <= len(dropped) <= 4, dropped  # per address and reason: the first, then the minute's count
    assert sum(event["count"] for event in dropped) >= 60 and {event["ip"] for event in dropped} == {"127.0.0.1"}


def test_a_200_mb_instance_is_refused_past_the_limit_without_being_held_in_memory_and_leaves_nothing(
        own_listener, node, stack, tmp_path):
    big = tmp_path / "big.dcm"
    assert write_large_dicom(big, side=10240, patient_id="R-501") > 200 * 1024 * 1024
    files = stored_files(stack)
    status = Path(f"/proc/{own_listener.process.pid}/status")
    Path(f"/proc/{own_listener.process.pid}/clear_refs").write_text("5")  # the peak, from now on
    before = _kilobytes(status.read_text(), "VmRSS")

    sent = send_with_storescu([big], port=own_listener.port, calling="XRAY1", timeout=120)

    peak = _kilobytes(status.read_text(), "VmHWM")
    assert sent.returncode != 0 and "Received Store Response (Error: CannotUnderstand)" in sent.stderr, sent.stderr
    assert (peak - before) / 1024 < 50, f"the listener's peak memory rose by {(peak - before) / 1024:.0f} MB"
    assert Case.objects.count() == 0 and Patient.objects.count() == 0 and stored_files(stack) == files
    assert list((stack.config.data_dir / "dicom-incoming").iterdir()) == []
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_INSTANCE_RECEIVED)
    assert event.details["outcome"] == "rejected" and "larger than the 25 MB limit" in event.details["reason"]


def _kilobytes(status: str, field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)[1])


def test_an_association_called_to_another_title_is_refused_and_audited(listener, node, tmp_path):
    sent = send_with_storescu([film(tmp_path)], port=listener.port, calling="XRAY1", called="SOMEONEELSE")

    assert sent.returncode != 0 and "Called AE Title Not Recognized" in sent.stderr, sent.stderr
    assert Case.objects.count() == 0
    (event,) = association_events()
    assert (event["outcome"], event["node"], event["called"], event["ip"]) == (
        "rejected", "XRAY1", "SOMEONEELSE", "127.0.0.1")
    assert "called AE title" in event["reason"]


def test_200_refused_associations_give_one_audit_row_per_address_title_and_reason_and_a_count(own_listener):
    titles = ["STRANGER1", "STRANGER2", "STRANGER3", "STRANGER4"]
    for attempt in range(200):
        echo = ["echoscu", "-aet", titles[attempt % 4], "-aec", "CXRTRIAGE", "127.0.0.1", str(own_listener.port)]
        assert subprocess.run(echo, capture_output=True, timeout=30).returncode != 0
    own_listener.stop()  # writes out the minute's tallies

    rejected = association_events(outcome="rejected")
    assert len(rejected) <= 2 * len(titles), rejected  # the first of each, then one count per minute
    assert {event["node"] for event in rejected} == set(titles)
    assert sum(event["count"] for event in rejected) == 200
    assert all(event["reason"] == "calling AE title or address not registered" for event in rejected)
