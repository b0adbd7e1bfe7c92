"""Who may use the API: an integration's token sees and submits only for its own clinics, on every
endpoint; a revoked token is refused at once; rights, rate limits and the browser's session (with CSRF)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cases.audit.actors import Actor
from cases.integrations.services import revoke_token
from cases.models import ApiToken, ApiTokenUse, AuditEvent, Case
from cases.reviews.services import sign_review
from cxrsite.testing.images import png_bytes
from tests.factories import api_token, integration, make_case, predicted_case

pytestmark = pytest.mark.django_db


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def film(name: str = "chest.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(256), content_type="image/png")


@pytest.fixture
def hillside_token(clinic):
    return api_token(integration("Hillside EMR", clinic, may_submit=True))


@pytest.fixture
def riverside_case(other_clinic, other_staff, radiologist):
    case, _ = predicted_case(other_clinic, other_staff, "covid", mrn="RIVER-1")
    other_clinic.members.add(radiologist)
    sign_review(case=case, reviewer=radiologist, finding="covid")
    return case


def case_urls(case: Case) -> list[str]:
    urls = [reverse("api:case", args=[case.public_id]), reverse("api:case_fhir", args=[case.public_id])]
    return urls + [reverse("api:case_image", args=[case.public_id, kind]) for kind in ("display", "original", "heatmap")]


def test_a_token_of_one_clinic_gets_404_for_every_endpoint_of_another_clinics_case_and_the_attempt_is_audited(
        client, hillside_token, riverside_case):
    for url in case_urls(riverside_case):
        response = client.get(url, **bearer(hillside_token))
        assert response.status_code == 404, url
        assert "RIVER-1" not in response.content.decode()
    denied = AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_DENIED, case=riverside_case)
    assert denied.count() == len(case_urls(riverside_case))
    assert set(denied.values_list("actor_label", flat=True)) == {"api:Hillside EMR"}


def test_a_token_of_one_clinic_reads_its_own_clinics_case_on_every_endpoint(client, clinic, staff, radiologist,
                                                                             hillside_token):
    case, _ = predicted_case(clinic, staff, "covid", mrn="HILL-1")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    for url in case_urls(case):
        assert client.get(url, **bearer(hillside_token)).status_code == 200, url
    assert client.get(reverse("api:case", args=[case.public_id]), **bearer(hillside_token)).json()["mrn"] == "HILL-1"


def test_changed_since_lists_only_the_tokens_clinics_cases(client, settings, clinic, staff, hillside_token,
                                                           riverside_case):
    settings.CXR_API_CURSOR_SETTLE_SECONDS = 0
    own = make_case(clinic, staff, mrn="HILL-2")
    from cases.audit.services import record
    record(AuditEvent.Action.CASE_SUBMITTED, actor=Actor.of_user(staff), case=own)

    body = client.get(reverse("api:cases"), **bearer(hillside_token)).json()
    assert [case["id"] for case in body["cases"]] == [str(own.public_id)]


def test_a_token_cannot_submit_to_another_clinic_and_nothing_is_stored(client, other_clinic, hillside_token):
    response = client.post(reverse("api:cases"), {"clinic": other_clinic.code, "mrn": "X-1", "image": film()},
                           **bearer(hillside_token))
    assert response.status_code == 400 and "clinic" in response.json()["errors"]
    assert Case.objects.count() == 0


def test_a_read_only_token_cannot_submit(client, clinic):
    token = api_token(integration("Register", clinic, may_submit=False, may_read=True))
    response = client.post(reverse("api:cases"), {"mrn": "X-2", "image": film()}, **bearer(token))
    assert response.status_code == 403
    assert Case.objects.count() == 0


def test_a_submit_only_token_cannot_read(client, clinic, staff):
    token = api_token(integration("Uploader", clinic, may_submit=True, may_read=False))
    case = make_case(clinic, staff)
    assert client.get(reverse("api:case", args=[case.public_id]), **bearer(token)).status_code == 403
    assert client.get(reverse("api:cases"), **bearer(token)).status_code == 403


def test_a_revoked_token_is_refused_at_once_and_the_refusal_is_audited(client, clinic, staff, hillside_token):
    case = make_case(clinic, staff)
    url = reverse("api:case", args=[case.public_id])
    assert client.get(url, **bearer(hillside_token)).status_code == 200
    revoke_token(token=ApiToken.objects.get(), actor=Actor.system())

    assert client.get(url, **bearer(hillside_token)).status_code == 401
    assert client.get(url, **bearer(hillside_token)).status_code == 401
    assert ApiTokenUse.objects.get().refused == 2
    refusals = AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_DENIED, actor_label="api:Hillside EMR")
    assert refusals.count() == 1  # once per token and minute, the counts in ApiTokenUse


def test_an_inactive_integrations_token_is_refused(client, clinic, hillside_token):
    clinic.integrations.update(active=False)
    assert client.get(reverse("api:caller"), **bearer(hillside_token)).status_code == 401


def test_requests_without_a_token_or_with_a_wrong_one_are_refused(client, hillside_token):
    url = reverse("api:caller")
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer cxr_nothere_secret").status_code == 401
    prefix = ApiToken.objects.get().prefix
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer cxr_{prefix}_not-the-secret").status_code == 401


def test_tokens_are_kept_only_as_digests(hillside_token):
    token = ApiToken.objects.get()
    assert hillside_token.startswith(f"cxr_{token.prefix}_") and len(hillside_token) > 50
    assert hillside_token not in (token.digest, token.prefix)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_ISSUED).count() == 1


def test_each_minute_of_use_is_audited_once_with_the_counts_kept_per_token(client, hillside_token):
    for _ in range(3):
        assert client.get(reverse("api:caller"), **bearer(hillside_token)).status_code == 200
    assert ApiTokenUse.objects.get().requests == 3
    used = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_USED)
    assert used.actor_label == "api:Hillside EMR" and used.details["request"] == "GET /api/v1/me/"


def test_a_token_over_its_rate_limit_gets_429_until_the_next_minute(client, settings, hillside_token):
    settings.CXR_API_RATE_LIMIT = 2
    codes = [client.get(reverse("api:caller"), **bearer(hillside_token)).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    assert ApiTokenUse.objects.get().throttled == 2


def test_the_browser_session_may_use_the_api_but_a_write_needs_the_csrf_token(clinic, staff):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    assert browser.get(reverse("api:caller")).json()["clinics"] == [{"code": "hillside", "name": "Hillside Clinic"}]
    response = browser.post(reverse("api:cases"), {"mrn": "S-1", "image": film()})
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert Case.objects.count() == 0


def test_api_answers_are_never_cached(client, hillside_token):
    response = client.get(reverse("api:caller"), **bearer(hillside_token))
    assert "no-store" in response["Cache-Control"]


def test_changed_since_gives_each_changed_case_once_with_its_newest_state_and_a_cursor_to_go_on_from(
        client, settings, clinic, staff, radiologist, hillside_token):
    settings.CXR_API_CURSOR_SETTLE_SECONDS = 0
    settings.CXR_API_PAGE_SIZE = 1
    first, _ = predicted_case(clinic, staff, "covid", mrn="C-1")
    second, _ = predicted_case(clinic, staff, "normal", mrn="C-2")
    from cases.audit.services import record
    for case in (first, second):
        record(AuditEvent.Action.CASE_SUBMITTED, actor=Actor.of_user(staff), case=case)
    url = reverse("api:cases")

    page = client.get(url, **bearer(hillside_token)).json()
    assert [case["mrn"] for case in page["cases"]] == ["C-1"]
    page = client.get(url, {"cursor": page["cursor"]}, **bearer(hillside_token)).json()
    assert [case["mrn"] for case in page["cases"]] == ["C-2"]
    cursor = page["cursor"]
    assert client.get(url, {"cursor": cursor}, **bearer(hillside_token)).json() == {"cases": [], "cursor": cursor}

    sign_review(case=first, reviewer=radiologist, finding="covid")
    page = client.get(url, {"cursor": cursor}, **bearer(hillside_token)).json()
    assert [(case["mrn"], case["status"], case["review"]["finding"]) for case in page["cases"]] == [
        ("C-1", "reviewed", "covid")]
    assert client.get(url, {"cursor": "not-a-cursor"}, **bearer(hillside_token)).status_code == 400


def test_changes_younger_than_the_settling_time_wait_for_the_next_call(client, settings, clinic, staff,
                                                                       hillside_token):
    settings.CXR_API_CURSOR_SETTLE_SECONDS = 60
    case = make_case(clinic, staff)
    from cases.audit.services import record
    record(AuditEvent.Action.CASE_SUBMITTED, actor=Actor.of_user(staff), case=case)
    assert client.get(reverse("api:cases"), **bearer(hillside_token)).json() == {"cases": [], "cursor": "0"}


def test_a_throttled_answer_says_when_to_try_again(client, settings, hillside_token):
    settings.CXR_API_RATE_LIMIT = 1
    client.get(reverse("api:caller"), **bearer(hillside_token))
    refused = client.get(reverse("api:caller"), **bearer(hillside_token))
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
