"""The small JSON endpoint open pages poll for outcomes: the same read rule as the case pages, an amendment
marked with its time, and polls that do not keep an idle session alive."""

import time

import pytest
from django.urls import reverse

from cases.reviews.services import amend_review, sign_review
from cxrsite.middleware import REFRESHED_KEY
from tests.factories import predicted_case

OUTCOMES = reverse("cases:outcomes")


@pytest.fixture
def signed(clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff, "covid", mrn="LR-1")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    return case, review


def test_it_gives_the_status_and_the_finding_in_force(client, staff, signed):
    case, review = signed
    client.force_login(staff)
    response = client.get(OUTCOMES, {"id": [str(case.public_id), "not-a-uuid"]})
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    [outcome] = response.json()["cases"]
    assert (outcome["id"], outcome["status"], outcome["final"], outcome["review"], outcome["amended_at"]) == (
        str(case.public_id), "reviewed", "COVID-19", review.pk, "")
    assert outcome["announce"] == "Patient LR-1: reviewed, final finding COVID-19."


def test_an_amendment_changes_the_key_and_carries_its_time(client, staff, radiologist, signed):
    case, review = signed
    client.force_login(staff)
    before = client.get(OUTCOMES, {"id": str(case.public_id)}).json()["cases"][0]
    amendment = amend_review(review=review, reviewer=radiologist, finding="normal", reason="second look")
    after = client.get(OUTCOMES, {"id": str(case.public_id)}).json()["cases"][0]
    assert after["key"] != before["key"] and after["review"] == amendment.pk and after["final"] == "Normal"
    assert after["amended_at"].startswith(amendment.signed_at.strftime("%Y-%m-%d"))
    assert after["announce"].startswith("Patient LR-1: amended at ")


def test_cases_of_other_clinics_are_left_out(client, other_staff, signed):
    case, _ = signed
    client.force_login(other_staff)
    assert client.get(OUTCOMES, {"id": str(case.public_id)}).json() == {"cases": []}


def test_anonymous_visitors_are_sent_to_log_in_and_only_get_is_answered(client, staff, signed):
    case, _ = signed
    assert client.get(OUTCOMES, {"id": str(case.public_id)}).status_code == 302
    client.force_login(staff)
    assert client.post(OUTCOMES).status_code == 405


def test_the_case_page_carries_the_key_the_endpoint_gives(client, staff, signed):
    case, _ = signed
    client.force_login(staff)
    key = client.get(OUTCOMES, {"id": str(case.public_id)}).json()["cases"][0]["key"]
    assert f'data-result-key="{key}"' in client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()


def test_a_background_poll_does_not_refresh_the_idle_session(client, staff, signed):
    case, _ = signed
    client.force_login(staff)
    session = client.session
    stale = int(time.time()) - 600
    session[REFRESHED_KEY] = stale
    session.save()
    client.get(OUTCOMES, {"id": str(case.public_id)}, headers={"X-CXR-Poll": "1"})
    assert client.session[REFRESHED_KEY] == stale
    client.get(OUTCOMES, {"id": str(case.public_id)})
    assert client.session[REFRESHED_KEY] > stale
