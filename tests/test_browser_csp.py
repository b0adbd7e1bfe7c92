"""The Content-Security-Policy in a real browser: every page renders and works without a violation.

Chromium reports each blocked inline script, inline style or foreign source as a
`securitypolicyviolation` event and a console error; either fails the test.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from tests.factories import predicted_case
from tests.test_browser_journey import CHROMIUM_ARGS, Watcher, log_in, log_out

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any page script: collects what the policy blocked.
COLLECT_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => window.cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline code"} at line ${event.lineNumber}`));
"""


class PolicyWatcher(Watcher):
    """The journey's watcher (console errors, JavaScript errors, 5xx), plus the policy's violations."""

    def __init__(self, page):
        super().__init__(page)
        self.page = page
        page.add_init_script(COLLECT_VIOLATIONS)

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert "default-src 'self'" in response.headers["content-security-policy"], url
        self.page.wait_for_load_state("networkidle")

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("window.cspViolations")
        assert (violations, self.problems) == ([], []), where


def test_login_case_review_worklist_report_audit_and_admin_pages_render_without_policy_violations(
        live_server, clinic, staff, radiologist, administrator, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the fixtures' ORM work while Playwright runs
    case, _ = predicted_case(clinic, staff, "covid", mrn="CSP-1")
    base = live_server.url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        watcher = PolicyWatcher(page)

        watcher.visit(base + reverse("login"))
        watcher.assert_clean("login page")
        log_in(page, base, staff.username)
        watcher.visit(base + reverse("cases:case_detail", args=[case.public_id]))
        expect(page.get_by_test_id("suggestion-words")).to_contain_text("likely")  # staff read words (issue 27)
        watcher.assert_clean("case page")
        log_out(page)

        log_in(page, base, radiologist.username)
        watcher.visit(base + reverse("cases:worklist"))
        watcher.assert_clean("worklist")
        watcher.visit(base + reverse("cases:review", args=[case.public_id]))
        viewer = page.locator("#viewer")
        expect(viewer).to_have_attribute("data-ready", "true")  # viewer.js ran and drew the image
        expect(page.get_by_test_id("probabilities").locator("rect.bar-covid")).to_have_attribute("width", "91.0%")
        page.get_by_label("Heatmap (h)").check()
        expect(viewer).to_have_attribute("data-heatmap-shown", "true")
        page.get_by_label("4. Other / indeterminate").check()  # the sign button's text follows the choice
        expect(page.locator("#review-form button[type=submit]")).to_have_text("Sign: Other / indeterminate")
        watcher.assert_clean("review page")
        watcher.visit(base + reverse("cases:report", args=[case.public_id]))
        watcher.assert_clean("report")
        log_out(page)

        log_in(page, base, administrator.username)
        for name in ("audit:events", "audit:oversight", "admin:index", "admin:cases_auditevent_changelist",
                     "admin:cases_case_changelist", "admin:auth_user_change"):
            args = [staff.pk] if name.endswith("_change") else []
            watcher.visit(base + reverse(name, args=args))
            watcher.assert_clean(name)
        browser.close()
