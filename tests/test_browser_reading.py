"""In Chromium: the review form chooses nothing for the radiologist, neither a click nor Ctrl+Enter signs
without a choice, the button names the finding, and a read-first clinic opens the AI panel only after the
first impression is saved. Each new state passes axe and keeps a visible focus."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import FirstImpression, Review
from tests.a11y import DESKTOP, PHONE, blocking_violations, chromium, sign_in  # noqa: F401
from tests.factories import predicted_case, refused_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_review(chromium, live_server, user, case, viewport=DESKTOP):  # noqa: F811
    page = chromium.new_context(viewport=viewport).new_page()
    sign_in(page, live_server.url, user.username)
    page.goto(live_server.url + reverse("cases:review", args=[case.public_id]))
    expect(page.locator("#viewer")).to_have_attribute("data-ready", "true")
    return page


def test_nothing_is_chosen_and_neither_click_nor_ctrl_enter_signs_without_a_choice(live_server, clinic, staff,
                                                                                  radiologist, chromium):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "covid", mrn="BR-1")
    page = open_review(chromium, live_server, radiologist, case)
    findings = page.locator("#review-form input[name=finding]")
    expect(findings).to_have_count(5)
    expect(page.locator("#review-form input[name=finding]:checked")).to_have_count(0)
    sign = page.locator("#review-form button[type=submit]")
    expect(sign).to_have_text("Sign: choose a finding first")

    sign.click()
    findings.first.focus()
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(500)  # a submission would have navigated by now
    assert page.url.endswith(reverse("cases:review", args=[case.public_id]))
    assert not Review.objects.exists()
    assert page.evaluate("document.querySelector('#review-form').checkValidity()") is False

    page.keyboard.press("2")
    expect(sign).to_have_text("Sign: Normal")
    page.get_by_label("Note (required when you override)").fill("Clear lungs")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    expect(page.get_by_text("Review signed for patient BR-1.")).to_be_visible()
    review = Review.objects.get(case=case)
    assert (review.finding, review.agreed) == ("normal", False)
    page.context.close()


def test_a_human_read_signs_image_not_usable_without_a_note(live_server, clinic, staff, radiologist,
                                                            chromium):  # noqa: F811
    case, _ = refused_case(clinic, staff, mrn="BR-2")
    page = open_review(chromium, live_server, radiologist, case)
    expect(page.get_by_text("confirm AI suggestion")).to_have_count(0)
    assert blocking_violations(page, "human read, review") == []
    page.get_by_label("5. Image not usable: ask the clinic to resend").check()
    sign = page.locator("#review-form button[type=submit]")
    expect(sign).to_have_text("Sign: Image not usable: ask the clinic to resend")
    assert page.evaluate("document.querySelector('#review-form textarea[name=note]').required") is False
    with page.expect_navigation():
        sign.click()
    assert Review.objects.get(case=case).finding == "unusable"
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_read_first_hides_the_ai_until_the_first_impression_is_saved(live_server, clinic, staff, radiologist,
                                                                     chromium, viewport):  # noqa: F811
    clinic.read_first = True
    clinic.save()
    case, _ = predicted_case(clinic, staff, "covid", mrn="BR-3")
    page = open_review(chromium, live_server, radiologist, case, viewport)
    expect(page.get_by_role("heading", name="Your first impression")).to_be_visible()
    expect(page.get_by_test_id("ai-panel")).to_have_count(0)
    expect(page.get_by_label("Heatmap (h)")).to_have_count(0)
    found = blocking_violations(page, "read-first, before the impression")

    save = page.locator("#impression-form button[type=submit]")
    save.click()  # nothing chosen: the browser refuses
    page.wait_for_timeout(300)
    assert not FirstImpression.objects.exists()
    expect(page.get_by_label("1. COVID-19")).to_be_focused()  # the browser's refusal points at the findings
    page.keyboard.press("3")
    expect(save).to_have_text("Save first impression: Viral Pneumonia")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")

    expect(page.get_by_test_id("ai-panel")).to_be_visible()
    expect(page.get_by_test_id("first-impression")).to_contain_text("Viral Pneumonia")
    expect(page.get_by_test_id("ai-suggestion")).to_have_text("COVID-19")
    expect(page.locator("#review-form input[name=finding]:checked")).to_have_count(0)
    found += blocking_violations(page, "read-first, after the impression")
    assert FirstImpression.objects.get(case=case).finding == "viral_pneumonia"
    page.goto(live_server.url + reverse("cases:worklist"))
    expect(page.get_by_test_id("read-first")).to_have_text("After your first read")
    found += blocking_violations(page, "read-first worklist")
    assert found == []
    page.context.close()
