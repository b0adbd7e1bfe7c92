"""Layout findings from the security review: the worklist on a phone, the staff film's size, the
heatmap's defaults, and the printed report on one A4 page."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.audit.actors import Actor
from cases.reviews.services import sign_review
from tests.a11y import DESKTOP, PHONE, chromium, sign_in  # noqa: F401 (a fixture)
from tests.factories import predicted_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF_PAGE = re.compile(rb"/Type\s*/Page(?!s)")


def open_page(chromium, live_server, user, viewport, url):  # noqa: F811
    page = chromium.new_context(viewport=viewport).new_page()
    sign_in(page, live_server.url, user.username)
    page.goto(live_server.url + url)
    page.wait_for_load_state("networkidle")
    return page


def test_on_a_phone_the_worklist_does_not_scroll_sideways_and_shows_the_suggestion_and_review_button(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    predicted_case(clinic, staff, "covid", mrn="PHONE-LONG-MRN-0001", urgent=True)
    predicted_case(clinic, staff, "viral_pneumonia", mrn="PHONE-2")
    page = open_page(chromium, live_server, radiologist, PHONE, reverse("cases:worklist"))
    widths = page.evaluate("""() => { const t = document.querySelector("[data-testid=worklist]").parentElement;
      return [document.documentElement.scrollWidth, window.innerWidth, t.scrollWidth, t.clientWidth]; }""")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    for name in ("Review patient PHONE-LONG-MRN-0001", "Review patient PHONE-2"):
        button = page.get_by_role("link", name=name)
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
        one_line = button.evaluate("b => parseFloat(getComputedStyle(b).lineHeight) * 1.5")
        assert box["height"] < one_line + 2 * 5, (name, box)  # one line of text, not a letter per line
    expect(page.get_by_role("cell", name="Viral Pneumonia")).to_be_in_viewport()
    page.context.close()


def test_the_staff_case_page_shows_the_film_across_its_column_with_a_link_to_full_size(
        live_server, clinic, staff, chromium):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "normal", mrn="FILM-1")
    page = open_page(chromium, live_server, staff, DESKTOP, reverse("cases:case_detail", args=[case.public_id]))
    film = page.get_by_role("img", name=re.compile("Chest X-ray of patient FILM-1"))
    assert film.bounding_box()["width"] >= 600  # the stored film is 256 px wide
    link = page.get_by_role("link", name="Open the image full size (new tab)")
    expect(link).to_have_attribute("href", reverse("cases:image", args=[case.public_id, "display"]))
    page.context.close()


def test_the_heatmap_starts_at_half_opacity_with_a_legend_and_reset_turns_it_off(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "covid", mrn="HEAT-1")
    page = open_page(chromium, live_server, radiologist, DESKTOP, reverse("cases:review", args=[case.public_id]))
    viewer, legend = page.locator("#viewer"), page.get_by_test_id("heatmap-legend")
    opacity = page.get_by_label("Heatmap opacity")
    expect(viewer).to_have_attribute("data-ready", "true")
    expect(opacity).to_have_value("50")
    expect(legend).to_be_hidden()
    page.get_by_label("Heatmap (h)").check()
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("less")
    opacity.fill("90")
    page.get_by_role("button", name="Reset").click()
    expect(viewer).to_have_attribute("data-heatmap-shown", "false")
    expect(page.get_by_label("Heatmap (h)")).not_to_be_checked()
    expect(opacity).to_have_value("50")
    expect(legend).to_be_hidden()
    page.context.close()


def test_the_printed_report_fits_one_a4_page_and_gives_the_disclaimer_once(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    case, _ = predicted_case(clinic, staff, "covid", mrn="PRINT-1", urgent=True,
                             symptoms="Fever, dry cough and breathlessness for six days")
    sign_review(case=case, reviewer=radiologist, finding="viral_pneumonia", actor=Actor.of_user(radiologist),
                note="Bilateral patchy opacities, more on the right; clinical correlation and a repeat film advised.")
    page = open_page(chromium, live_server, staff, DESKTOP, reverse("cases:report", args=[case.public_id]))
    page.emulate_media(media="print")
    expect(page.get_by_text(re.compile("research software", re.IGNORECASE)).filter(visible=True)).to_have_count(1)
    expect(page.get_by_test_id("final-finding")).to_have_text("Viral Pneumonia")
    pdf = page.pdf(format="A4")
    assert len(PDF_PAGE.findall(pdf)) == 1
    page.context.close()
