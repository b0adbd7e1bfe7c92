"""Resumable uploads (tus 1.0) against the server: chunks at the offset the server keeps, the film filed
once through the form's checks and `submit_case` when its last byte arrives, and every upload its
caller's alone."""

import base64
import hashlib
import socket
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import AuditEvent, Case, Upload
from cxrsite.testing.images import png_bytes
from tests.factories import api_token, integration

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
DETAILS = {"mrn": "TUS-1", "age": "52", "sex": "M", "view": "PA", "filename": "chest.png"}


@pytest.fixture
def emr(clinic):
    return integration("Hillside forwarder", clinic, may_submit=True)


@pytest.fixture
def token(emr):
    return api_token(emr)


def as_token(token: str) -> dict:
    return {**TUS, "HTTP_AUTHORIZATION": f"Bearer {token}"}


def metadata(**details) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in details.items())


def create(client, headers, *, length: int, **details):
    # As tus clients send it: no body, no content type.
    return client.generic("POST", reverse("cases:uploads"), b"", content_type="", HTTP_UPLOAD_LENGTH=str(length),
                       HTTP_UPLOAD_METADATA=metadata(**{**DETAILS, **details}), **headers)


def send(client, url, headers, data: bytes, *, offset: int, **extra):
    return client.generic("PATCH", url, data, content_type="application/offset+octet-stream",
                          HTTP_UPLOAD_OFFSET=str(offset), **headers, **extra)


def offset_of(client, url, headers) -> int:
    return int(client.head(url, **headers)["Upload-Offset"])


def stored_files(settings) -> list:
    return sorted(p.name for p in settings.CXR_STORAGE_DIR.rglob("*") if p.is_file())


def test_it_files_one_case_when_the_last_chunk_arrives_with_the_integration_as_the_actor(client, token, emr, settings):
    film = png_bytes(300)
    headers = as_token(token)
    created = create(client, headers, length=len(film))
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    url = created["Location"]
    half = len(film) // 2

    first = send(client, url, headers, film[:half], offset=0)
    assert (first.status_code, first["Upload-Offset"]) == (204, str(half))
    assert Case.objects.count() == 0 and offset_of(client, url, headers) == half
    last = send(client, url, headers, film[half:], offset=half)

    assert (last.status_code, last["Upload-Offset"]) == (204, str(len(film)))
    case = Case.objects.get()
    assert last["CXR-Case"] == reverse("api:case", args=[case.public_id])
    assert (case.patient.mrn, case.submitted_via, case.image_sha256) == ("TUS-1", emr, hashlib.sha256(film).hexdigest())
    assert AuditEvent.objects.get(action=AuditEvent.Action.CASE_SUBMITTED).actor_label == "api:Hillside forwarder"
    assert not any(name.endswith(".tus") for name in stored_files(settings))  # the partial went with the filing
    assert sorted(stored_files(settings)) == sorted([case.image_name, case.display_name])


def test_a_chunk_at_a_wrong_offset_answers_409_and_changes_nothing(client, token):
    film = png_bytes(256)
    headers = as_token(token)
    url = create(client, headers, length=len(film))["Location"]
    send(client, url, headers, film[:1000], offset=0)

    assert send(client, url, headers, film[500:2000], offset=500).status_code == 409
    assert send(client, url, headers, film[2000:], offset=2000).status_code == 409
    assert offset_of(client, url, headers) == 1000
    assert send(client, url, headers, film[1000:], offset=1000).status_code == 204
    assert Case.objects.count() == 1


def test_a_chunk_whose_checksum_does_not_match_answers_460_and_is_not_kept(client, token):
    film = png_bytes(256)
    headers = as_token(token)
    url = create(client, headers, length=len(film))["Location"]
    wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    right = base64.b64encode(hashlib.sha1(film).digest()).decode()

    refused = send(client, url, headers, film, offset=0, HTTP_UPLOAD_CHECKSUM=f"sha1 {wrong}")
    assert refused.status_code == 460
    assert offset_of(client, url, headers) == 0 and Case.objects.count() == 0
    assert send(client, url, headers, film, offset=0, HTTP_UPLOAD_CHECKSUM=f"sha1 {right}").status_code == 204
    assert Case.objects.count() == 1


def test_another_callers_upload_answers_404_to_every_request(client, token, clinic, staff, other_staff):
    film = png_bytes(256)
    url = create(client, as_token(token), length=len(film))["Location"]
    send(client, url, as_token(token), film[:100], offset=0)
    other_integration = as_token(api_token(integration("Other system", clinic, may_submit=True)))
    colleague = Client()
    colleague.force_login(staff)  # same clinic, but not the caller who made it

    for outsider, headers in ((client, other_integration), (colleague, TUS)):
        assert outsider.head(url, **headers).status_code == 404
        assert send(outsider, url, headers, film[100:], offset=100).status_code == 404
        assert outsider.delete(url, **headers).status_code == 404
    assert offset_of(client, url, as_token(token)) == 100 and Case.objects.count() == 0


def test_a_request_without_a_token_or_session_is_refused_and_one_without_the_tus_version_answers_412(client, token):
    assert client.post(reverse("cases:uploads"), HTTP_UPLOAD_LENGTH="10", **TUS).status_code == 401
    no_version = client.post(reverse("cases:uploads"), HTTP_UPLOAD_LENGTH="10", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (no_version.status_code, no_version["Tus-Version"]) == (412, "1.0.0")
    options = client.options(reverse("cases:uploads"))
    assert options.status_code == 204 and "checksum" in options["Tus-Extension"]


def test_a_token_that_may_not_submit_cannot_create_an_upload(client, clinic):
    reader = api_token(integration("Reader", clinic, may_submit=False))
    assert create(client, as_token(reader), length=100).status_code == 403
    assert Upload.objects.count() == 0


def test_an_upload_larger_than_the_form_allows_is_refused_at_creation(client, token, settings):
    settings.CXR_UPLOAD_MAX_BYTES = 1000
    assert create(client, as_token(token), length=1001).status_code == 413
    assert Upload.objects.count() == 0 and stored_files(settings) == []


def test_a_bad_file_found_at_the_end_is_refused_with_the_forms_reason_and_leaves_nothing(client, token, settings):
    lying = b"\x89PNG\r\n\x1a\n" + b"\x00" * 3000  # a PNG signature and nothing readable
    headers = as_token(token)
    url = create(client, headers, length=len(lying))["Location"]
    send(client, url, headers, lying[:1000], offset=0)

    refused = send(client, url, headers, lying[1000:], offset=1000)

    assert refused.status_code == 422
    assert refused.json()["errors"]["image"] and "/" not in refused.json()["detail"]
    assert Case.objects.count() == 0 and Upload.objects.count() == 0 and stored_files(settings) == []
    assert client.head(url, **headers).status_code == 404


def test_details_the_form_refuses_are_refused_at_the_end_like_the_form(client, token, settings):
    film = png_bytes(256)
    headers = as_token(token)
    url = create(client, headers, length=len(film), clinic="riverside")["Location"]  # not its clinic
    refused = send(client, url, headers, film, offset=0)
    assert refused.status_code == 422 and "clinic" in refused.json()["errors"]
    assert Case.objects.count() == 0 and stored_files(settings) == []


def test_a_submission_sent_again_after_it_was_filed_answers_the_case_already_filed(client, token):
    film, submission = png_bytes(256), str(uuid.uuid4())
    headers = as_token(token)
    url = create(client, headers, length=len(film), submission=submission)["Location"]
    first = send(client, url, headers, film, offset=0)

    again = create(client, headers, length=len(film), submission=submission)

    assert again.status_code == 201 and again["Upload-Offset"] == str(len(film))
    assert again["CXR-Case"] == first["CXR-Case"]
    assert client.head(again["Location"], **headers)["CXR-Case"] == first["CXR-Case"]
    assert Case.objects.count() == 1


def test_the_same_submission_id_through_the_multipart_api_makes_no_second_case(client, token):
    film, submission = png_bytes(256), str(uuid.uuid4())
    headers = as_token(token)
    url = create(client, headers, length=len(film), submission=submission)["Location"]
    send(client, url, headers, film, offset=0)

    fields = {key: value for key, value in DETAILS.items() if key != "filename"}
    response = client.post(reverse("api:cases"), {**fields, "image": SimpleUploadedFile("chest.png", film)},
                           HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=submission)
    assert response.status_code == 201 and Case.objects.count() == 1


def test_a_signed_in_user_uploads_with_the_session_and_its_csrf_token(staff, clinic):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get(reverse("cases:case_new"))
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    film = png_bytes(256)

    assert create(browser, TUS, length=len(film)).status_code == 403  # no CSRF token
    url = create(browser, {**TUS, **csrf}, length=len(film))["Location"]
    assert send(browser, url, {**TUS, **csrf}, film, offset=0).status_code == 204
    assert Case.objects.get().submitted_by == staff


def test_termination_removes_the_upload_and_its_bytes(client, token, settings):
    film = png_bytes(256)
    headers = as_token(token)
    url = create(client, headers, length=len(film))["Location"]
    send(client, url, headers, film[:500], offset=0)

    assert client.delete(url, **headers).status_code == 204
    assert client.head(url, **headers).status_code == 404
    assert Upload.objects.count() == 0 and stored_files(settings) == []


def test_the_sweep_removes_an_expired_partial_and_never_a_filed_cases_files(client, token, settings):
    headers = as_token(token)
    film = png_bytes(256)
    filed = create(client, headers, length=len(film))["Location"]
    send(client, filed, headers, film, offset=0)
    waiting = create(client, headers, length=len(film))["Location"]
    send(client, waiting, headers, film[:500], offset=0)
    fresh = create(client, headers, length=len(film))["Location"]
    Upload.objects.exclude(public_id=fresh.rsplit("/", 1)[1]).update(expires=timezone.now() - timedelta(seconds=1))
    case = Case.objects.get()

    call_command("sweep_orphan_files")

    assert list(Upload.objects.values_list("public_id", flat=True)) == [uuid.UUID(fresh.rsplit("/", 1)[1])]
    assert sorted(stored_files(settings)) == sorted([case.image_name, case.display_name,
                                                     Upload.objects.get().partial_name])
    assert AuditEvent.objects.get(action=AuditEvent.Action.FILES_SWEPT).details["expired_uploads"] == 2


def test_a_film_whose_sha256_does_not_match_at_the_end_answers_460_and_leaves_nothing(client, token, settings):
    film = png_bytes(256)
    headers = as_token(token)
    url = create(client, headers, length=len(film), sha256=hashlib.sha256(b"another film").hexdigest())["Location"]
    assert send(client, url, headers, film[:1000], offset=0).status_code == 204

    refused = send(client, url, headers, film[1000:], offset=1000)

    assert refused.status_code == 460 and "send it again" in refused.json()["detail"]
    assert "/" not in refused.json()["detail"]
    assert Case.objects.count() == 0 and Upload.objects.count() == 0 and stored_files(settings) == []
    assert client.head(url, **headers).status_code == 404


def test_a_film_whose_sha256_matches_is_filed_and_a_malformed_sha256_is_refused_at_creation(client, token):
    film = png_bytes(256)
    headers = as_token(token)
    refused = create(client, headers, length=len(film), sha256="not-a-digest")
    assert refused.status_code == 400 and "SHA-256" in refused.json()["detail"] and Upload.objects.count() == 0

    url = create(client, headers, length=len(film), sha256=hashlib.sha256(film).hexdigest().upper())["Location"]
    assert send(client, url, headers, film, offset=0).status_code == 204
    assert Case.objects.get().image_sha256 == hashlib.sha256(film).hexdigest()


def raw_patch(port: int, path: str, token: str, *, offset: int, length: int) -> socket.socket:
    """A PATCH that announces `length` bytes; the caller sends what it likes on the socket, then closes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                  f"Authorization: Bearer {token}\r\nContent-Type: application/offset+octet-stream\r\n"
                  f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").encode())
    return sock


def wait_for_offset(upload: Upload, offset: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.offset == offset:
            return
        time.sleep(0.02)
    raise AssertionError(f"the offset stayed at {upload.offset}, not {offset}")


@pytest.mark.django_db(transaction=True)
def test_a_whole_film_patch_cut_mid_way_keeps_its_bytes_and_the_rest_sent_later_files_one_case(
        live_server, token, settings):
    # The clients' path: the film in one PATCH, its SHA-256 in the metadata. The connection really drops:
    # the client sends part of the body, then closes its socket.
    settings.CXR_UPLOAD_CHECKPOINT_BYTES, settings.CXR_UPLOAD_CHECKPOINT_SECONDS = 64 * 1024, 0
    film = png_bytes(1200, seed=4)
    assert len(film) > 4 * settings.CXR_UPLOAD_CHECKPOINT_BYTES
    headers = as_token(token)
    client = Client()
    url = create(client, headers, length=len(film), sha256=hashlib.sha256(film).hexdigest())["Location"]
    path = url.split("testserver", 1)[-1]
    upload = Upload.objects.get()
    port = int(live_server.url.rsplit(":", 1)[1])

    sock = raw_patch(port, path, token, offset=0, length=len(film))
    third = len(film) // 3
    sock.sendall(film[:third])
    # Still sending: the server records what came every checkpoint, before the request ends.
    wait_for_offset(upload, third // settings.CXR_UPLOAD_CHECKPOINT_BYTES * settings.CXR_UPLOAD_CHECKPOINT_BYTES)
    sock.sendall(film[third:2 * third])
    sock.close()  # the link drops with two thirds of the film sent

    wait_for_offset(upload, 2 * third)
    assert Case.objects.count() == 0
    assert offset_of(client, url, headers) == 2 * third
    last = send(client, url, headers, film[2 * third:], offset=2 * third)

    assert (last.status_code, last["Upload-Offset"]) == (204, str(len(film)))
    assert Case.objects.get().image_sha256 == hashlib.sha256(film).hexdigest()
    assert [p.name for p in settings.CXR_STORAGE_DIR.rglob("*.tus")] == []


def test_the_same_image_for_the_same_patient_is_refused_until_the_sender_says_to_file_it_again(client, token):
    film = png_bytes(256, seed=6)
    headers = as_token(token)
    digest = hashlib.sha256(film).hexdigest()
    first = create(client, headers, length=len(film), sha256=digest, submission=str(uuid.uuid4()))["Location"]
    assert send(client, first, headers, film, offset=0).status_code == 204

    again = create(client, headers, length=len(film), sha256=digest, submission=str(uuid.uuid4()),
                   ask_duplicate="true")["Location"]
    refused = send(client, again, headers, film, offset=0)
    assert refused.status_code == 422 and "same image" in refused.json()["detail"] and Case.objects.count() == 1

    confirmed = create(client, headers, length=len(film), sha256=digest, submission=str(uuid.uuid4()),
                       ask_duplicate="true", file_again="true")["Location"]
    assert send(client, confirmed, headers, film, offset=0).status_code == 204 and Case.objects.count() == 2
