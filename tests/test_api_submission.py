"""Submitting through the API: the web form's checks and `submit_case`, the integration as the actor, and
the Idempotency-Key (the same key and body answer the same case; another body answers 422)."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from cases.models import AuditEvent, Case, IdempotencyKey
from cxrsite.testing.images import png_bytes
from tests.factories import api_token, integration

pytestmark = pytest.mark.django_db

FIELDS = {"mrn": "API-1", "age": "41", "sex": "F", "view": "PA", "symptoms": "cough", "urgent": "true"}


@pytest.fixture
def emr(clinic):
    return integration("Hillside EMR", clinic, may_submit=True)


@pytest.fixture
def token(emr):
    return api_token(emr)


def submit(client, token, *, key: str | None = None, film: bytes | None = None, **fields):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    body = {**FIELDS, **fields, "image": SimpleUploadedFile("chest.png", film or png_bytes(256), "image/png")}
    return client.post(reverse("api:cases"), body, **headers)


def test_a_submission_makes_a_case_of_the_integration_audited_with_it_as_the_actor(client, token, emr, clinic):
    response = submit(client, token)
    assert response.status_code == 201
    case = Case.objects.get()
    body = response.json()
    assert (body["id"], body["clinic"], body["mrn"], body["status"]) == (str(case.public_id), "hillside", "API-1",
                                                                         case.status)
    assert response["Location"] == body["links"]["case"]
    assert (case.submitted_via, case.submitted_by, case.received_from, case.urgent) == (emr, None, None, True)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CASE_SUBMITTED)
    assert (event.actor, event.actor_label, event.case) == (None, "api:Hillside EMR", case)
    assert body["ai_result"] is None and body["review"] is None and "not a diagnostic device" in body["disclaimer"]


def test_an_upload_the_intake_checks_refuse_gets_their_reason_and_leaves_nothing(client, token, settings):
    response = submit(client, token, film=b"\x89PNG\r\n\x1a\n" + b"\x00" * 300)
    assert response.status_code == 400
    assert response.json()["errors"]["image"]
    assert Case.objects.count() == 0 and not any(settings.CXR_STORAGE_DIR.rglob("*.*"))


def test_the_same_key_and_body_answer_the_same_case_and_make_one(client, token):
    first = submit(client, token, key="order-42")
    again = submit(client, token, key="order-42")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Case.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CASE_SUBMITTED).count() == 1


def test_the_same_key_with_another_body_answers_422_and_makes_nothing(client, token):
    submit(client, token, key="order-43")
    other = submit(client, token, key="order-43", mrn="API-2")
    assert other.status_code == 422
    another_film = submit(client, token, key="order-43", film=png_bytes(300))
    assert another_film.status_code == 422
    assert Case.objects.count() == 1


def test_keys_of_two_integrations_do_not_meet(client, token, clinic):
    other = api_token(integration("TB register", clinic, may_submit=True))
    assert submit(client, token, key="k-1").json()["id"] != submit(client, other, key="k-1").json()["id"]
    assert Case.objects.count() == 2


def test_without_a_key_each_submission_is_a_case(client, token):
    submit(client, token)
    submit(client, token)
    assert Case.objects.count() == 2


def test_a_refused_submission_binds_no_key(client, token):
    assert submit(client, token, key="order-44", view="").status_code == 400  # a PNG says no view
    assert submit(client, token, key="order-44").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_the_same_moment_make_one_case(token, settings):
    if connection.vendor == "sqlite":
        settings.DATABASES["default"]["OPTIONS"]["timeout"] = 20  # as configured: the writer waits its turn
    answers, start = [], threading.Barrier(2)

    def send():
        start.wait()
        answers.append(submit(Client(), token, key="race-1"))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [answer.status_code for answer in answers] == [201, 201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert Case.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_a_key_longer_than_255_characters_is_refused(client, token):
    assert submit(client, token, key="k" * 256).status_code == 400
    assert Case.objects.count() == 0


def test_a_session_user_submits_for_their_own_clinic_with_the_csrf_token(clinic, staff):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get(reverse("cases:case_new"))  # sets the CSRF cookie, as a page of the site does
    token = browser.cookies["csrftoken"].value
    response = browser.post(reverse("api:cases"), {**FIELDS, "image": SimpleUploadedFile(
        "chest.png", png_bytes(256), "image/png")}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Case.objects.get().submitted_by == staff
