"""The keyboard alone: staff submit a case and a radiologist signs a review without a mouse, with a
visible focus at every stop; the review page's single-key shortcuts act only inside its form, and
the viewer announces only real changes.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from cases.models import Case, Review
from cxrsite.testing.images import chest_like_array, encode
from tests.a11y import chromium, focused, is_focused, keyboard_sign_in, press_and_follow, tab_to  # noqa: F401
from tests.factories import predicted_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records each text the viewer's live region takes, from the moment it is installed.
RECORD_VIEWER_STATUS = """() => {
  window.viewerSaid = [];
  const region = document.querySelector(".viewer-status");
  new MutationObserver(() => window.viewerSaid.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def page(chromium):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    yield context.new_page()
    context.close()


def open_file_chooser_by_keyboard(page):
    """Space on the focused file input, as a keyboard user opens the file dialog. Under load, headless
    Chromium now and then drops the first press's dialog (about 1 run in 5 here, before and after the
    form's markup changed); a user who sees no dialog presses again, so the test does too, once."""
    for timeout in (5_000, 30_000):
        try:
            with page.expect_file_chooser(timeout=timeout) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeout:
            assert page.evaluate("document.activeElement.type") == "file", f"focus moved to {focused(page)}"
    raise AssertionError("Space on the file input opened no file dialog, twice")


def test_keyboard_alone_submits_a_case_with_visible_focus(live_server, staff, page, tmp_path, monkeypatch):
    monkeypatch.setattr("cases.intake.services.enqueue_case", lambda case_id: None)  # no queue needed here
    film = tmp_path / "chest.png"
    film.write_bytes(encode(chest_like_array(256)))
    keyboard_sign_in(page, live_server.url, staff.username)

    tab_to(page, page.get_by_role("link", name="New case"))
    press_and_follow(page, "Enter")
    tab_to(page, page.get_by_label("Patient number (MRN)"))
    page.keyboard.type("KEY-1")
    tab_to(page, page.get_by_label("Age (years)"))
    page.keyboard.type("61")
    tab_to(page, page.get_by_label("View"))
    page.keyboard.type("PA")
    tab_to(page, page.get_by_label("Symptoms"))
    page.keyboard.type("Cough for a week")
    tab_to(page, page.get_by_label("Clinically urgent"))
    page.keyboard.press("Space")
    tab_to(page, page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)"))
    open_file_chooser_by_keyboard(page).set_files(str(film))
    tab_to(page, page.get_by_role("button", name="Submit case"))
    press_and_follow(page, "Enter")

    expect(page.get_by_role("heading", name="Patient KEY-1")).to_be_visible()
    case = Case.objects.get(patient__mrn="KEY-1")
    assert (case.view, case.urgent, case.symptoms, case.submitted_by) == ("PA", True, "Cough for a week", staff)


def test_keyboard_alone_signs_an_override_with_visible_focus(live_server, clinic, staff, radiologist, page):
    case, prediction = predicted_case(clinic, staff, "covid", mrn="KEY-2")
    keyboard_sign_in(page, live_server.url, radiologist.username)

    tab_to(page, page.get_by_role("link", name="Review patient KEY-2"))
    press_and_follow(page, "Enter")
    expect(page.locator("#viewer")).to_have_attribute("data-ready", "true")
    tab_to(page, page.get_by_label("1. COVID-19"))  # nothing is checked: Tab stops on the group's first radio
    sign = page.locator("#review-form button[type=submit]")
    expect(sign).to_have_text("Sign: choose a finding first")
    page.keyboard.press("4")
    expect(sign).to_have_text("Sign: Other / indeterminate")
    tab_to(page, page.get_by_label("Note (required when you override)"))
    page.keyboard.type("Rotated film; repeat advised")
    tab_to(page, sign)
    press_and_follow(page, "Enter")

    expect(page.get_by_text("Review signed for patient KEY-2.")).to_be_visible()
    review = Review.objects.get(case=case)
    assert (review.finding, review.agreed, review.note, review.prediction) == (
        "other", False, "Rotated film; repeat advised", prediction)


@pytest.fixture
def review_page(live_server, clinic, staff, radiologist, page):
    """A radiologist on the review page of a COVID-19 suggestion, the viewer drawn."""
    case, _ = predicted_case(clinic, staff, "covid", mrn="KEY-3")
    keyboard_sign_in(page, live_server.url, radiologist.username)
    page.goto(live_server.url + reverse("cases:review", args=[case.public_id]))
    expect(page.locator("#viewer")).to_have_attribute("data-ready", "true")
    return page


def test_single_key_shortcuts_act_only_in_the_review_form_and_never_move_focus(review_page):
    page = review_page
    covid, viral = page.get_by_label("1. COVID-19"), page.get_by_label("3. Viral Pneumonia")

    level = page.get_by_label("Level")
    level.focus()
    page.keyboard.press("3")  # adjusting the slider: no finding may be chosen by it
    expect(page.locator("#review-form input[name=finding]:checked")).to_have_count(0)
    assert is_focused(level), focused(page)

    covid.focus()
    page.keyboard.press("3")  # in the form: picks Viral Pneumonia, focus stays put
    expect(viral).to_be_checked()
    assert is_focused(covid), focused(page)
    expect(page.locator("#review-form button[type=submit]")).to_have_text("Sign: Viral Pneumonia")


def test_the_viewer_announces_only_zoom_and_heatmap_changes_and_sliders_say_their_value(review_page):
    page = review_page
    page.evaluate(RECORD_VIEWER_STATUS)

    level = page.get_by_label("Level")
    level.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(level).to_have_attribute("aria-valuetext", "centre 133")
    page.locator("canvas.viewer-canvas").focus()
    page.keyboard.press("ArrowLeft")  # panning is not news
    page.keyboard.press("ArrowUp")
    assert page.evaluate("window.viewerSaid") == []

    page.get_by_role("button", name="Zoom in (+)").click()
    page.get_by_label("Heatmap (h)").check()
    assert page.evaluate("window.viewerSaid") == ["Zoom 1.3×", "Zoom 1.3×, heatmap on"]
