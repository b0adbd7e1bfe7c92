"""The new-case form in a real browser: a PNG without a view is caught before it is sent,
so the chosen file is not lost to a round trip."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from cases.models import Case
from cxrsite.testing.images import png_bytes
from tests.test_browser_journey import CHROMIUM_ARGS, Watcher, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_png_without_a_view_is_stopped_in_the_browser_and_the_chosen_file_is_kept(
        live_server, clinic, staff, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    film = tmp_path / "chest.png"
    film.write_bytes(png_bytes(seed=4))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        watcher = Watcher(page)
        log_in(page, live_server.url, staff.username)
        page.goto(live_server.url + reverse("cases:case_new"))
        page.get_by_label("Patient number (MRN)").fill("H-77")
        page.get_by_label("Age (years)").fill("40")
        page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(str(film))
        page.get_by_role("button", name="Submit case").click()

        expect(page.locator("#view-needed")).to_be_visible()
        expect(page.locator("select[name=view]")).to_be_focused()
        expect(page.locator("select[name=view]")).to_have_attribute("aria-invalid", "true")
        assert page.url.endswith(reverse("cases:case_new")) and not Case.objects.exists()
        assert page.locator("input[name=image]").evaluate("input => input.files.length") == 1

        page.locator("select[name=view]").select_option("PA")
        expect(page.locator("#view-needed")).to_be_hidden()
        page.get_by_role("button", name="Submit case").click()
        expect(page.get_by_text("Case submitted.")).to_be_visible()
        assert Case.objects.get().view == "PA"
        assert watcher.problems == []
        browser.close()
