"""No doubled work at intake: a form sent twice (Back, then Submit) files one case and links to it; the
same image for the same patient within minutes is filed again only when the person confirms."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases.access import STAFF_GROUP
from cases.models import Case
from cxrsite.testing.images import png_bytes
from tests.conftest import make_user

NEW_CASE = reverse("cases:case_new")


def form_key(client) -> str:
    page = client.get(NEW_CASE).content.decode()
    return re.search(r'name="submission_key" value="([0-9a-f-]{36})"', page).group(1)


def post(client, clinic, *, key="", data=None, mrn="H-1", **extra):
    form = {"clinic": clinic.pk, "mrn": mrn, "age": "54", "sex": "F", "view": "PA", "submission_key": key,
            "image": SimpleUploadedFile("chest.png", data or png_bytes(seed=1), content_type="image/png"), **extra}
    return client.post(NEW_CASE, form)


@pytest.fixture
def logged_in(client, staff, monkeypatch):
    monkeypatch.setattr("cases.intake.services.enqueue_case", lambda case_id: None)
    client.force_login(staff)
    return client


def test_each_form_shown_carries_its_own_submission_key(logged_in):
    assert form_key(logged_in) != form_key(logged_in)


def test_the_same_form_sent_twice_files_one_case_and_links_to_it(logged_in, clinic):
    key = form_key(logged_in)
    first = post(logged_in, clinic, key=key)
    assert first.status_code == 302
    case = Case.objects.get()
    again = post(logged_in, clinic, key=key, data=png_bytes(seed=2), mrn="H-2")  # Back, edited, Submit
    page = again.content.decode()
    assert again.status_code == 409 and Case.objects.count() == 1
    assert "This form was already submitted" in page
    assert reverse("cases:case_detail", args=[case.public_id]) in page


def test_a_key_of_another_user_is_not_theirs_to_replay(client, clinic, staff, monkeypatch):
    monkeypatch.setattr("cases.intake.services.enqueue_case", lambda case_id: None)
    colleague = make_user("colleague", STAFF_GROUP, clinic)
    client.force_login(staff)
    key = form_key(client)
    post(client, clinic, key=key)
    client.force_login(colleague)
    assert post(client, clinic, key=key, data=png_bytes(seed=3), mrn="H-3").status_code == 302
    assert Case.objects.count() == 2


def test_the_same_image_for_the_same_patient_asks_before_filing_again(logged_in, clinic):
    post(logged_in, clinic, key=form_key(logged_in))
    earlier = Case.objects.get()
    asked = post(logged_in, clinic, key=form_key(logged_in))
    page = asked.content.decode()
    assert asked.status_code == 409 and Case.objects.count() == 1
    assert "The same image was filed for patient H-1" in page
    assert reverse("cases:case_detail", args=[earlier.public_id]) in page and 'name="file_again"' in page

    assert post(logged_in, clinic, key=form_key(logged_in), file_again="on").status_code == 302
    assert Case.objects.count() == 2


def test_the_same_image_long_ago_or_for_another_patient_is_filed_without_asking(logged_in, clinic):
    post(logged_in, clinic, key=form_key(logged_in))
    assert post(logged_in, clinic, key=form_key(logged_in), mrn="H-OTHER").status_code == 302
    Case.objects.update(created=timezone.now() - timedelta(hours=2))
    assert post(logged_in, clinic, key=form_key(logged_in)).status_code == 302
    assert Case.objects.count() == 3
