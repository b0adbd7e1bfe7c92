"""A case's status changes on an open page in place, and a screen reader hears each change once."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import Case
from tests.a11y import DESKTOP, chromium, sign_in  # noqa: F401 (a fixture)
from tests.factories import make_case, predict

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each text the live region takes, and a flag a reload would wipe out.
RECORD_ANNOUNCEMENTS = """() => {
  window.notReloaded = true;
  window.announced = [];
  const region = document.getElementById("case-announcer");
  new MutationObserver(() => window.announced.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


def test_each_status_change_is_announced_once_without_a_reload_or_a_lost_focus(
        live_server, clinic, staff, chromium):  # noqa: F811
    case = make_case(clinic, staff, mrn="LIVE-1", status=Case.Status.QUEUED)
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, live_server.url, staff.username)
    page.goto(live_server.url + reverse("cases:case_detail", args=[case.public_id]))
    page.evaluate(RECORD_ANNOUNCEMENTS)
    download = page.get_by_role("link", name="Download the original (PNG)")
    download.focus()

    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLASSIFYING)
    page.wait_for_function("() => window.announced.length === 1")
    predict(case, "covid")
    expect(page.get_by_test_id("ai-suggestion")).to_have_text("Viral-pattern pneumonia")  # an adult: issue 27
    page.wait_for_timeout(2500)  # one more polling interval: nothing further may be said

    assert page.evaluate("window.announced") == [
        "Classifying the image… This page updates by itself.",
        "AI suggestion: Viral-pattern pneumonia, Viral-pattern pneumonia: likely. Not reviewed by a radiologist yet.",
    ]
    assert page.evaluate("window.notReloaded") is True
    assert download.evaluate("element => element === document.activeElement")
    expect(page.get_by_text("AI suggestion, not reviewed")).to_be_visible()
    page.context.close()
