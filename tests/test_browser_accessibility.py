"""WCAG 2.1 AA by axe-core in Chromium: every page of every role, at desktop and phone width, in the
states users meet (empty, with errors, classifying, predicted, reviewed, failed), and the admin pages
administrators use. Any critical or serious violation fails the test, with its rule and elements.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from cases.audit.actors import Actor
from cases.models import Case
from cases.reviews.services import sign_review
from tests.a11y import DESKTOP, PHONE, blocking_violations, chromium, sign_in  # noqa: F401 (a fixture)
from tests.factories import make_case, predicted_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cases(clinic, staff, radiologist):
    """One case in each state a page can show."""
    predicted, _ = predicted_case(clinic, staff, "covid", mrn="A11Y-PRED", urgent=True)
    reviewed, prediction = predicted_case(clinic, staff, "normal", mrn="A11Y-DONE")
    sign_review(case=reviewed, reviewer=radiologist, finding="viral_pneumonia", note="Patchy bilateral opacities",
                actor=Actor.of_user(radiologist))
    failed = make_case(clinic, staff, mrn="A11Y-FAIL", status=Case.Status.FAILED)
    Case.objects.filter(pk=failed.pk).update(failure_reason="The image could not be read.")
    classifying = make_case(clinic, staff, mrn="A11Y-BUSY", status=Case.Status.CLASSIFYING)
    return {"predicted": predicted, "reviewed": reviewed, "failed": failed, "classifying": classifying}


def signed_in_page(chromium, base: str, viewport: dict, user, url: str):  # noqa: F811
    page = chromium.new_context(viewport=viewport).new_page()
    sign_in(page, base, user.username)
    page.goto(base + url)
    return page


def audit_pages(base: str, viewport: dict, chromium, user, urls: list[str]) -> list[str]:  # noqa: F811
    """Logs in at this width and runs axe on each URL; the violations found."""
    page = signed_in_page(chromium, base, viewport, user, reverse("cases:home"))
    context = page.context
    found = []
    for url in urls:
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
        found += blocking_violations(page, f"{url} at {viewport['width']} px")
    context.close()
    return found


def case_url(name: str, case: Case) -> str:
    return reverse(name, args=[case.public_id])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_login_page_empty_and_with_its_error_has_no_serious_violation(live_server, staff, chromium, viewport):  # noqa: F811
    page = chromium.new_context(viewport=viewport).new_page()
    page.goto(live_server.url + reverse("login"))
    found = blocking_violations(page, "login")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").count() == 1
    found += blocking_violations(page, "login with an error")
    page.context.close()
    assert found == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_staff_pages_in_every_state_have_no_serious_violation(live_server, staff, cases, chromium, viewport):  # noqa: F811
    urls = [reverse("cases:case_list"), reverse("cases:case_list") + "?mrn=nobody-has-this",
            reverse("cases:case_new"), reverse("cases:notifications"), reverse("cases:outbox")]
    urls += [case_url("cases:case_detail", case) for case in cases.values()]
    urls += [case_url("cases:report", cases["reviewed"]), case_url("cases:report", cases["predicted"])]
    found = audit_pages(live_server.url, viewport, chromium, staff, urls)

    # The new-case form sent back with errors.
    page = signed_in_page(chromium, live_server.url, viewport, staff, reverse("cases:case_new"))
    page.get_by_role("button", name="Submit case").click()
    assert page.title().startswith("Error:")
    expect(page.locator("#error-summary")).to_be_focused()  # heard first, links lead to the fields
    found += blocking_violations(page, "new case with errors")
    page.context.close()
    assert found == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_radiologist_pages_in_every_state_have_no_serious_violation(live_server, radiologist, cases, chromium,  # noqa: F811
                                                                     viewport):
    worklist = reverse("cases:worklist")
    urls = [worklist, worklist + "?status=all", worklist + "?status=failed&label=normal",
            worklist + "?submitted_from=not-a-date", reverse("cases:notifications")]
    urls += [case_url("cases:review", case) for case in cases.values()]
    urls += [case_url("cases:report", cases["reviewed"])]
    found = audit_pages(live_server.url, viewport, chromium, radiologist, urls)

    # The amend form sent back without its reason (the browser's own check is taken off to send it).
    page = signed_in_page(chromium, live_server.url, viewport, radiologist, case_url("cases:review", cases["reviewed"]))
    page.get_by_text("Amend this review").click()
    page.locator("textarea[name=reason]").evaluate("element => element.removeAttribute('required')")
    page.get_by_role("button", name="Sign amendment").click()
    assert page.locator("textarea[name=reason][aria-invalid=true]").count() == 1
    found += blocking_violations(page, "amend form with errors")
    page.context.close()
    assert found == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_administrator_audit_and_admin_pages_have_no_serious_violation(live_server, administrator, staff, cases,  # noqa: F811
                                                                       chromium, viewport):
    events = reverse("audit:events")
    urls = [events, events + "?since=2026-02-01&until=2026-01-01", events + "?case=not-a-uuid",
            events + "?user=nobody-by-this-name", reverse("audit:oversight"),
            case_url("audit:timeline", cases["reviewed"]), case_url("cases:case_detail", cases["failed"])]
    urls += [reverse(name) for name in (
        "admin:index", "admin:auth_user_changelist", "admin:auth_user_add", "admin:auth_group_changelist",
        "admin:cases_case_changelist", "admin:cases_auditevent_changelist", "admin:cases_clinic_changelist",
        "admin:cases_integration_changelist", "admin:cases_integration_add", "admin:cases_apitoken_changelist",
        "admin:cases_webhookevent_changelist", "admin:cases_notification_changelist")]
    urls += [reverse("admin:auth_user_change", args=[staff.pk]),
             reverse("admin:cases_case_change", args=[cases["reviewed"].pk]),
             reverse("admin:cases_clinic_change", args=[cases["reviewed"].clinic_id])]
    assert audit_pages(live_server.url, viewport, chromium, administrator, urls) == []


def test_admin_inline_tables_have_no_empty_header_and_breadcrumb_links_are_underlined(
        live_server, administrator, cases, chromium):  # noqa: F811
    # axe rates an empty header "minor", below the bar above, and does not see breadcrumbs as running
    # text; the audit found both, so they are checked here.
    page = signed_in_page(chromium, live_server.url, DESKTOP, administrator,
                          reverse("admin:cases_case_change", args=[cases["reviewed"].pk]))
    page.wait_for_load_state("networkidle")
    headers = page.locator(".tabular thead th")
    assert headers.count() > 0
    results = Axe().run(page, options={"runOnly": ["empty-table-header"]})
    assert [node["target"] for v in results.response["violations"] for node in v["nodes"]] == []
    crumb = page.locator("div.breadcrumbs a").first
    assert crumb.evaluate("element => getComputedStyle(element).textDecorationLine") == "underline"
    page.context.close()
