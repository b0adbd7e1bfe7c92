"""Storage faults at intake, and the orphan sweep: a failed write leaves no file, a committed
case's files are never removed, and files no row names are swept once old enough."""

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from cases import storage
from cases.models import AuditEvent, Case
from cxrsite.testing.images import png_bytes
from tests.factories import make_case
from tests.faults import files_under, full_disk

DAY = 24 * 3600


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_write_to_a_full_disk_fails_and_leaves_no_file(settings, tmp_path):
    with full_disk(tmp_path / "full") as folder:
        settings.CXR_STORAGE_DIR = folder
        with pytest.raises(OSError):
            storage.save_bytes(os.urandom(200_000), ".png")
        assert files_under(folder) == []


def test_an_upload_to_a_full_disk_is_refused_in_plain_words_and_leaves_nothing(staff_client, clinic, settings, tmp_path):
    with full_disk(tmp_path / "full", size="96k") as folder:
        settings.CXR_STORAGE_DIR = folder
        response = staff_client.post(reverse("cases:case_new"), {
            "clinic": clinic.pk, "mrn": "H-9", "age": "40", "sex": "F", "view": "PA",
            "image": SimpleUploadedFile("chest.png", png_bytes(512), content_type="image/png")})
        page = response.content.decode()
        assert response.status_code == 503
        assert "could not be stored just now, so nothing was saved" in page
        assert str(folder) not in page and "Errno" not in page
        assert files_under(folder) == []
        assert not Case.objects.exists()


def test_an_orphan_older_than_the_grace_period_is_swept_and_a_fresh_one_is_not(clinic, staff, settings):
    case = make_case(clinic, staff)
    old_orphan = storage.path_of(storage.save_bytes(b"left by a write that never committed", ".png"))
    fresh_orphan = storage.path_of(storage.save_bytes(b"written a moment ago", ".png"))
    left_part = old_orphan.with_name("0" * 32 + ".png" + storage.TEMPORARY_SUFFIX)
    left_part.write_bytes(b"half")
    for path in (old_orphan, left_part, storage.path_of(case.image_name)):
        age(path, 2 * DAY)

    call_command("sweep_orphan_files", "--dry-run")
    assert old_orphan.exists() and left_part.exists()
    assert not AuditEvent.objects.filter(action="files_swept").exists()

    call_command("sweep_orphan_files")
    assert not old_orphan.exists() and not left_part.exists()
    assert fresh_orphan.exists()
    assert storage.path_of(case.image_name).exists()  # a case's file, however old, stays
    event = AuditEvent.objects.get(action="files_swept")
    assert event.details["orphans"] == 2 and event.details["grace_seconds"] == settings.CXR_ORPHAN_GRACE_SECONDS


@pytest.mark.django_db(transaction=True)  # on_commit callbacks run only after a real commit
def test_a_case_whose_queueing_is_aborted_after_the_commit_keeps_both_files(staff_client, clinic, monkeypatch):
    def broker_aborted(case_id):
        raise SystemExit("the web server aborted the request while publishing")  # as gunicorn's timeout does

    monkeypatch.setattr("cases.intake.services.enqueue_case", broker_aborted)
    with pytest.raises(SystemExit):
        staff_client.post(reverse("cases:case_new"), {
            "clinic": clinic.pk, "mrn": "H-10", "age": "40", "sex": "F", "view": "PA",
            "image": SimpleUploadedFile("chest.png", png_bytes(256), content_type="image/png")})
    case = Case.objects.get()
    assert storage.path_of(case.image_name).exists() and storage.path_of(case.display_name).exists()


def test_a_dicom_results_report_and_capture_survive_the_sweep_and_an_amendment_still_reads_the_report(
        clinic, staff, radiologist, client, settings):
    """As reproduced on a copy: a DICOM case reviewed, its SR and SC built, everything aged past the
    grace period, then the sweep. The built objects are committed clinical files and must stay."""
    from cases.dicom import outbox
    from cases.dicom.services import receive_instance
    from cases.models import DicomNode, DicomResult
    from cases.reviews.services import amend_review, sign_review
    from cxrsite.testing.dicoms import dicom_bytes
    from cxrsite.testing.images import chest_like_array
    from tests.factories import predict

    unit = DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    case = receive_instance(node=unit, data=dicom_bytes(chest_like_array(256)), address="127.0.0.1").case
    predict(case, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    assert outbox.deliver_result(DicomResult.objects.get().pk, worker_host="test") == DicomResult.Status.KEPT
    result = DicomResult.objects.get()
    orphan = storage.path_of(storage.save_bytes(b"left by a write that never committed", ".dcm"))
    for path in storage.root().glob("??/*"):
        age(path, 3 * DAY)

    call_command("sweep_orphan_files")

    assert storage.path_of(result.report_name).exists() and storage.path_of(result.capture_name).exists()
    assert not orphan.exists()  # a file no row names is still swept
    assert AuditEvent.objects.get(action="files_swept").details["orphans"] == 1
    client.force_login(staff)
    for kind in ("report", "capture"):
        download = client.get(reverse("cases:dicom_result", args=[case.public_id, result.pk, kind]))
        assert download.status_code == 200 and b"".join(download.streaming_content)[128:132] == b"DICM"
    amendment = amend_review(review=review, reviewer=radiologist, finding="normal", reason="Second look: clear.")
    amended = DicomResult.objects.get(review=amendment)
    assert outbox.deliver_result(amended.pk, worker_host="test") == DicomResult.Status.KEPT  # reads the earlier SR
