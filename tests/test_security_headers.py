"""Response headers: no page with patient data may be cached, and every response has a strict CSP.

The cache check walks the whole URL conf, so a page added later is checked without a new test;
a URL with a parameter this file does not know fails until SAMPLE_ARGUMENTS learns it.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver, reverse

from cases.models import Case
from cases.reviews.services import sign_review
from tests.factories import predicted_case

PAGES_WITH_PATIENT_DATA = ["cases:case_detail", "cases:report", "cases:review", "cases:case_list", "cases:worklist",
                           "audit:events", "audit:export", "audit:timeline", "admin:cases_case_changelist",
                           "admin:cases_case_change", "admin:cases_patient_changelist", "audit:validation",
                           "audit:validation_clinic"]


def named_routes(patterns=None, namespace: str = ""):
    """(name for reverse(), pattern) of every named URL, admin included."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from named_routes(entry.url_patterns, inner)
        elif entry.name:
            yield namespace + entry.name, entry


def sample_url(name: str, pattern, case: Case) -> str:
    model_admin = getattr(pattern.callback, "model_admin", None)
    model = model_admin.model if model_admin else Case
    first_object = model.objects.order_by("pk").values_list("pk", flat=True).first() or 1
    values = {
        "public_id": case.public_id,
        "kind": "display",
        "app_label": "cases",
        "content_type_id": ContentType.objects.get_for_model(Case).pk,
        "object_id": first_object,
        "id": first_object,
        "result_id": 1,  # a DICOM result download: 404 for a case without one, still no-store
        "version_id": 1,  # the activation confirmation of a model version
        "clinic_id": case.clinic_id,  # a clinic's local validation page and reliability plot
    }
    parameters = list(pattern.pattern.regex.groupindex)
    unknown = set(parameters) - set(values)
    assert not unknown, f"{name}: no sample value for {unknown}"
    return reverse(name, kwargs={parameter: values[parameter] for parameter in parameters})


@pytest.fixture
def reviewed_case(clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff, "covid", mrn="H-1001")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    return case


def test_every_page_a_signed_in_user_gets_is_marked_no_store(client, reviewed_case, staff, radiologist,
                                                                administrator):
    answered_with_data = set()
    for user in (staff, radiologist, administrator):
        client.force_login(user)
        for name, pattern in named_routes():
            url = sample_url(name, pattern, reviewed_case)
            response = client.get(url)
            directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
            assert {"no-store", "private"} <= directives, (user.username, url, response.status_code, directives)
            if response.status_code == 200:
                answered_with_data.add(name)
    assert set(PAGES_WITH_PATIENT_DATA) <= answered_with_data  # the walk reached the real pages


def test_static_files_stay_cacheable_for_signed_in_users_while_their_pages_do_not(client, reviewed_case, staff,
                                                                                  settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the source folders: tests run no collectstatic
    client.force_login(staff)
    page = client.get(reverse("cases:case_detail", args=[reviewed_case.public_id]))
    static = client.get("/static/cxr/site.css")
    assert page.status_code == static.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "no-store" not in static["Cache-Control"] and "max-age=" in static["Cache-Control"]


def policy(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/no-such-page/"])
def test_every_response_carries_a_strict_content_security_policy(client, db, path):
    csp = policy(client.get(path))
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert "script-src" not in csp and "style-src" not in csp  # both fall back to 'self': no inline code
    assert all("'unsafe-" not in value for values in csp.values() for value in values)


def test_signed_in_pages_the_admin_and_static_files_carry_the_same_policy(client, reviewed_case, administrator,
                                                                          settings):
    settings.WHITENOISE_USE_FINDERS = True
    client.force_login(administrator)
    site_policy = policy(client.get(reverse("login")))
    for url in (reverse("cases:case_detail", args=[reviewed_case.public_id]), reverse("admin:cases_case_changelist"),
                "/static/cxr/favicon.svg"):
        assert policy(client.get(url)) == site_policy, url
