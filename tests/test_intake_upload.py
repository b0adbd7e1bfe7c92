"""Clinic staff submit cases through the form: good files become cases, bad ones leave nothing behind."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image
from pydicom import uid

from cases import storage
from cases.access import STAFF_GROUP
from cases.models import AuditEvent, Case, Clinic, Patient
from tests.conftest import make_user
from cxrsite.testing.dicoms import dicom_bytes, jpeg2000_dicom_bytes, jpeg_dicom_bytes
from cxrsite.testing.images import chest_like_array, encode, jpeg_bytes, png_bytes
from tests.test_intake_images import DAMAGED, png_claiming_size

NEW_CASE = reverse("cases:case_new")


def submit(client, clinic: Clinic, data: bytes, filename: str = "chest.png", **fields):
    form = {"clinic": clinic.pk, "mrn": "H-1001", "age": "54", "sex": "F", "view": "PA", "symptoms": "cough",
            "spo2": "94", "image": SimpleUploadedFile(filename, data, content_type="image/png"), **fields}
    return client.post(NEW_CASE, {k: v for k, v in form.items() if v is not None})


def stored_files(settings) -> list[Path]:
    root = Path(settings.CXR_STORAGE_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def logged_in(client, staff):
    client.force_login(staff)
    return client


def assert_nothing_left(settings):
    assert Case.objects.count() == 0
    assert Patient.objects.count() == 0
    assert not AuditEvent.objects.filter(action="case_submitted").exists()
    assert stored_files(settings) == []


MONO1 = dicom_bytes((chest_like_array(256).astype(np.uint16) * 16), photometric="MONOCHROME1",
                    rescale=(1.0, -1024.0), window=(1000.0, 3000.0), patient_id="H-1001")
ACCEPTED = {
    "png": (png_bytes(), "chest.png", "PNG"),
    "jpeg": (jpeg_bytes(), "chest.jpg", "JPEG"),
    "colour png": (encode(chest_like_array(300), "PNG", mode="RGB"), "photo.png", "PNG"),
    "dicom monochrome1 16-bit": (MONO1, "chest.dcm", "DICOM"),
    "dicom rle": (dicom_bytes(chest_like_array(256).astype(np.uint16), syntax=uid.RLELossless,
                              patient_id="H-1001"), "chest.dcm", "DICOM"),
    "dicom deflated": (dicom_bytes(chest_like_array(256), syntax=uid.DeflatedExplicitVRLittleEndian,
                                   patient_id="H-1001"), "chest", "DICOM"),
    # Refused before pylibjpeg's decoders were pinned (issue 17); accepted since.
    "dicom jpeg baseline": (jpeg_dicom_bytes(chest_like_array(256), patient_id="H-1001"), "chest.dcm", "DICOM"),
    "dicom jpeg 2000": (jpeg2000_dicom_bytes(chest_like_array(256), patient_id="H-1001"), "chest.dcm", "DICOM"),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_accepted_upload_is_stored_privately_with_its_sha256(logged_in, staff, clinic, settings, name):
    data, filename, image_format = ACCEPTED[name]
    response = submit(logged_in, clinic, data, filename)
    case = Case.objects.get()
    assert response.status_code == 302 and response.url == reverse("cases:case_detail", args=[case.public_id])
    assert case.image_sha256 == hashlib.sha256(data).hexdigest()
    assert storage.path_of(case.image_name).read_bytes() == data
    assert storage.path_of(case.image_name).is_relative_to(settings.CXR_STORAGE_DIR)
    assert (case.image_format, case.clinic, case.submitted_by, case.status) == (
        image_format, clinic, staff, Case.Status.SUBMITTED)
    with Image.open(storage.path_of(case.display_name)) as display:
        assert (display.format, display.mode, display.size) == ("PNG", "L", (case.image_width, case.image_height))
    assert len(stored_files(settings)) == 2  # the original and the display PNG, nothing else
    event = AuditEvent.objects.get(action="case_submitted")
    assert (event.case, event.actor, event.details["sha256"]) == (case, staff, case.image_sha256)


def test_the_case_page_after_submission_shows_the_image_and_details(logged_in, clinic):
    page = logged_in.get(submit(logged_in, clinic, png_bytes(), notes="smoker").url)
    case = Case.objects.get()
    text = page.content.decode()
    assert "Patient H-1001" in text and "smoker" in text and "94 %" in text and case.image_sha256 in text
    assert reverse("cases:image", args=[case.public_id, "display"]) in text


def test_classification_is_queued_only_after_the_case_is_committed(logged_in, clinic,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        submit(logged_in, clinic, png_bytes())
    assert len(callbacks) == 1 and Case.objects.get().status == Case.Status.SUBMITTED


def test_the_file_name_and_browser_content_type_do_not_decide_the_type(logged_in, clinic):
    submit(logged_in, clinic, jpeg_bytes(), "scan.png")
    assert Case.objects.get().image_format == "JPEG"
    assert Case.objects.get().image_name.endswith(".jpg")


REJECTED = {
    "empty": (b"", "The submitted file is empty."),
    "truncated png": (png_bytes()[:-2000], DAMAGED.format("PNG")),
    "truncated jpeg": (jpeg_bytes()[:-1500], DAMAGED.format("JPEG")),
    "pdf named .png": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
                       "This file is not a PNG, JPEG or DICOM image (it looks like a PDF)."),
    "html named .png": (b"<!DOCTYPE html><html><script>alert(1)</script></html>",
                        "This file is not a PNG, JPEG or DICOM image (it looks like an HTML page)."),
    "dicom without pixel data": (dicom_bytes(None, patient_id="H-1001"), "This DICOM file contains no image"),
    "pixel bomb": (png_claiming_size(9_000, 9_000), "(81.0 megapixels); the limit is 50.0 megapixels."),
    "too small": (png_bytes(64), "The image is only 64 x 64 pixels; a chest radiograph needs at least 128"),
}


@pytest.mark.parametrize("name", REJECTED)
def test_a_rejected_upload_shows_its_message_and_leaves_no_row_and_no_file(logged_in, clinic, settings, name):
    data, message = REJECTED[name]
    response = submit(logged_in, clinic, data, "chest.png")
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert_nothing_left(settings)


def test_a_file_over_the_size_limit_is_refused_with_both_sizes(logged_in, clinic, settings):
    settings.CXR_UPLOAD_MAX_BYTES = 20_000
    response = submit(logged_in, clinic, png_bytes(512))
    assert re.search(r"The file \(\d+(\.\d)? kB\) is larger than the 19\.5 kB limit\.", response.content.decode())
    assert_nothing_left(settings)


def test_a_dicom_fills_in_a_blank_patient_number_and_view(logged_in, clinic):
    submit(logged_in, clinic, dicom_bytes(chest_like_array(256), patient_id="D-777", view_position="AP"),
           "x.dcm", mrn="", view="")
    case = Case.objects.get()
    assert (case.patient.mrn, case.view) == ("D-777", Case.View.AP)


def test_a_dicom_for_another_patient_than_the_one_typed_is_refused(logged_in, clinic, settings):
    response = submit(logged_in, clinic, dicom_bytes(chest_like_array(256), patient_id="D-777"), "x.dcm", mrn="H-1001")
    assert escape("The DICOM file says the patient number is “D-777”, not “H-1001”.") in response.content.decode()
    assert_nothing_left(settings)


def test_a_dicom_with_another_view_than_the_one_chosen_is_refused(logged_in, clinic, settings):
    data = dicom_bytes(chest_like_array(256), patient_id="H-1001", view_position="LL")
    response = submit(logged_in, clinic, data, "x.dcm", view="PA")
    assert escape("The DICOM file says the view is “LAT”, not “PA”.") in response.content.decode()
    assert_nothing_left(settings)


def test_a_png_without_a_patient_number_asks_for_one(logged_in, clinic, settings):
    response = submit(logged_in, clinic, png_bytes(), mrn="")
    assert "Enter the patient number (the file does not contain one)." in response.content.decode()
    assert_nothing_left(settings)


def test_a_returning_patient_is_found_by_mrn_and_the_new_case_joins_their_history(logged_in, clinic):
    first = submit(logged_in, clinic, png_bytes(seed=1), birth_year="1970", age=None, sex="U")
    second = submit(logged_in, clinic, png_bytes(seed=2), age=None, sex="F")
    patient = Patient.objects.get()
    assert patient.cases.count() == 2 and (patient.birth_year, patient.sex) == (1970, "F")
    assert first.url in logged_in.get(second.url).content.decode()


def test_the_same_mrn_in_another_clinic_is_another_patient(client, clinic, other_clinic, staff, other_staff):
    for user, own_clinic in ((staff, clinic), (other_staff, other_clinic)):
        client.force_login(user)
        submit(client, own_clinic, png_bytes())
    assert Patient.objects.filter(mrn="H-1001").count() == 2


def test_staff_of_several_clinics_choose_the_clinic(client, clinic, other_clinic, db):
    both = make_user("floater", STAFF_GROUP, clinic, other_clinic)
    client.force_login(both)
    assert '<select name="clinic"' in client.get(NEW_CASE).content.decode()
    submit(client, other_clinic, png_bytes())
    assert Case.objects.get().clinic == other_clinic


def test_staff_cannot_submit_into_a_clinic_they_do_not_belong_to(logged_in, clinic, other_clinic):
    submit(logged_in, other_clinic, png_bytes())
    assert Case.objects.get().clinic == clinic


def test_staff_of_several_clinics_cannot_pick_one_they_do_not_belong_to(client, clinic, other_clinic, settings):
    client.force_login(make_user("floater", STAFF_GROUP, clinic, other_clinic))
    third = Clinic.objects.create(name="Third Clinic", code="third")
    response = submit(client, third, png_bytes())
    assert "Select a valid choice" in response.content.decode()
    assert_nothing_left(settings)


def test_a_failure_after_the_files_are_written_removes_them_and_the_rows(logged_in, clinic, settings, monkeypatch):
    def audit_store_down(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("cases.intake.services.record", audit_store_down)
    with pytest.raises(RuntimeError):
        submit(logged_in, clinic, png_bytes())
    assert_nothing_left(settings)


def test_an_age_that_contradicts_the_birth_year_is_refused(logged_in, clinic, settings):
    response = submit(logged_in, clinic, png_bytes(), age="30", birth_year="1940")
    assert "An age of 30 does not match the birth year 1940." in response.content.decode()
    assert_nothing_left(settings)


def test_an_error_while_queueing_after_the_commit_keeps_the_case_and_its_files(
        logged_in, clinic, settings, monkeypatch, django_capture_on_commit_callbacks):
    def broker_exploded(case_id):
        raise ConnectionError("broker exploded")

    monkeypatch.setattr("cases.intake.services.enqueue_case", broker_exploded)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(logged_in, clinic, png_bytes())
    case = Case.objects.get()
    assert response.status_code == 302 and case.status == Case.Status.SUBMITTED
    assert sorted(p.name for p in stored_files(settings)) == sorted([case.image_name, case.display_name])
