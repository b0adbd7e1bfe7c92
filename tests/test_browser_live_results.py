"""In Chromium, without a reload: the staff case page and case list show a signature and an amendment
(with its time), the worklist shows a new urgent case and moving waiting times while keeping the
reader's focus and place; each change is said once in a live region, and each state passes axe."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Case
from cases.reviews.services import amend_review, sign_review
from tests.a11y import DESKTOP, PHONE, blocking_violations, chromium, sign_in  # noqa: F401 (a fixture)
from tests.factories import make_case, predicted_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each text a live region takes, and a flag a reload would wipe out.
RECORD = """(id) => {
  window.notReloaded = true;
  window.announced = [];
  const region = document.getElementById(id);
  new MutationObserver(() => window.announced.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""
WAIT_MS = 15_000  # polls every second here; this bounds a lost update


@pytest.fixture(autouse=True)
def fast_polls(settings):
    settings.CXR_LIVE_REFRESH_SECONDS = 1


def opened(chromium, live_server, user, url, viewport=DESKTOP):  # noqa: F811
    page = chromium.new_context(viewport=viewport).new_page()
    sign_in(page, live_server.url, user.username)
    page.goto(live_server.url + url)
    return page


def settle(page):
    page.wait_for_timeout(2500)  # two more polls: nothing further may be said


def test_the_staff_case_page_shows_a_signature_then_an_amendment_each_said_once(live_server, clinic, staff,
                                                                               radiologist, chromium):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "covid", mrn="LIVE-S1")
    page = opened(chromium, live_server, staff, reverse("cases:case_detail", args=[case.public_id]))
    page.evaluate(RECORD, "case-announcer")
    download = page.get_by_role("link", name="Download the original (PNG)")
    download.focus()

    review = sign_review(case=case, reviewer=radiologist, finding="viral_pneumonia", note="bilateral")
    expect(page.get_by_test_id("final-finding")).to_have_text("Viral Pneumonia", timeout=WAIT_MS)
    settle(page)
    found = blocking_violations(page, "case page, signed")
    amendment = amend_review(review=review, reviewer=radiologist, finding="normal", reason="second look")
    expect(page.get_by_test_id("amended")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("final-finding")).to_have_text("Normal")
    settle(page)
    found += blocking_violations(page, "case page, amended")

    when = timezone.localtime(amendment.signed_at).strftime("%Y-%m-%d %H:%M")
    assert page.evaluate("window.announced") == [
        "Reviewed by a radiologist. Final finding: Viral Pneumonia.",
        f"Amended at {when} {timezone.localtime(amendment.signed_at).strftime('%Z')}. Final finding: Normal.",
    ]
    expect(page.get_by_test_id("amended")).to_contain_text(f"amended {when}")
    assert page.evaluate("window.notReloaded") is True
    assert download.evaluate("element => element === document.activeElement")
    assert found == []
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_case_list_shows_the_finding_and_the_amendment_each_said_once(live_server, clinic, staff, radiologist,
                                                                         chromium, viewport):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "covid", mrn="LIVE-L1")
    predicted_case(clinic, staff, "normal", mrn="LIVE-L2")
    page = opened(chromium, live_server, staff, reverse("cases:case_list"), viewport)
    page.evaluate(RECORD, "case-announcer")
    row = page.locator(f"tr[data-case='{case.public_id}']")

    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    expect(row.get_by_test_id("case-final")).to_have_text("COVID-19", timeout=WAIT_MS)
    expect(row.get_by_test_id("case-status")).to_have_text("Reviewed")
    amend_review(review=review, reviewer=radiologist, finding="other", reason="artefact")
    expect(row.get_by_test_id("case-final")).to_contain_text("Other / indeterminate", timeout=WAIT_MS)
    expect(row.get_by_test_id("case-final")).to_contain_text("amended 20")
    settle(page)

    said = page.evaluate("window.announced")
    assert len(said) == 2 and said[0] == "Patient LIVE-L1: reviewed, final finding COVID-19."
    assert said[1].startswith("Patient LIVE-L1: amended at ") and said[1].endswith("final finding Other / indeterminate.")
    assert page.evaluate("window.notReloaded") is True
    assert blocking_violations(page, "case list, amended") == []
    page.context.close()


def test_the_worklist_shows_a_new_urgent_case_and_moving_waits_keeping_focus_and_place(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    waiting = []
    for number in range(30):  # more than a screen, so the place on the page matters
        case, _ = predicted_case(clinic, staff, "normal", mrn=f"LIVE-W{number:02}", age=timedelta(minutes=5))
        waiting.append(case)
    page = opened(chromium, live_server, radiologist, reverse("cases:worklist"))
    page.evaluate(RECORD, "worklist-announcer")
    button = page.get_by_role("link", name="Review patient LIVE-W20")
    button.scroll_into_view_if_needed()
    button.focus()
    place = page.evaluate("window.scrollY")
    assert place > 0
    first_row = page.locator(f"tr[data-case='{waiting[0].public_id}']")
    expect(first_row).to_contain_text("5\xa0minutes")

    Case.objects.filter(pk=waiting[0].pk).update(created=timezone.now() - timedelta(minutes=9))
    expect(first_row).to_contain_text("9\xa0minutes", timeout=WAIT_MS)
    predicted_case(clinic, staff, "covid", mrn="LIVE-URGENT", urgent=True)
    expect(page.locator("tr[data-mrn=LIVE-URGENT]")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("[data-testid=status-counts] [data-status=predicted]")).to_have_text("31")
    settle(page)

    assert page.evaluate("window.announced") == ["New urgent case: patient LIVE-URGENT."]
    assert page.evaluate("window.notReloaded") is True
    assert button.evaluate("element => element === document.activeElement")
    assert abs(page.evaluate("window.scrollY") - place) < 60  # one new row above may push it by its height
    assert blocking_violations(page, "worklist, refreshed") == []
    page.context.close()
