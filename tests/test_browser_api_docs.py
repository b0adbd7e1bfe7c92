"""The API's documentation page in Chromium: Swagger UI from our own static files renders every operation
under the Content-Security-Policy with no violation, and a signed-in user's "Try it out" reaches the API
with the session (CSRF token included)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from tests.test_browser_csp import PolicyWatcher
from tests.test_browser_journey import CHROMIUM_ARGS, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_renders_the_schema_with_no_policy_violation_and_nothing_from_elsewhere(live_server, staff,
                                                                                              monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        watcher = PolicyWatcher(page)
        requested = []
        page.on("request", lambda request: requested.append(request.url))

        watcher.visit(live_server.url + reverse("api:docs"))
        expect(page.locator(".opblock")).to_have_count(6)  # every operation of the schema
        expect(page.get_by_text("/api/v1/cases/{public_id}/fhir/")).to_be_visible()
        watcher.assert_clean("API docs")
        assert [url for url in requested if not url.startswith(live_server.url)] == []

        log_in(page, live_server.url, staff.username)
        watcher.visit(live_server.url + reverse("api:docs"))
        operation = page.locator(".opblock", has=page.get_by_text("/api/v1/me/", exact=True))
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
        watcher.assert_clean("API docs, tried while signed in")
        browser.close()
