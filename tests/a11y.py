"""What the accessibility tests share: one Chromium per module, axe-core, and the focus ring's contrast."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD
from tests.test_browser_journey import CHROMIUM_ARGS

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
BLOCKING = ("critical", "serious")

# The focused element's outline against the background it is drawn on (the nearest ancestor with a
# background), by the WCAG relative-luminance formula; 0 when there is no outline of 2 px or more.
FOCUS_CONTRAST = """() => {
  const el = document.activeElement;
  const parse = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const style = getComputedStyle(el);
  if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2) return 0;
  let bg = {r: 255, g: 255, b: 255, a: 1};
  for (let node = el.parentElement; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.a > 0) { bg = c; break; }
  }
  const [hi, lo] = [lum(parse(style.outlineColor)), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture(scope="module")
def chromium():
    """One browser for the module. Playwright's sync API runs an event loop in this thread, so the
    tests' ORM work must be allowed under it (as in tests/test_browser_journey.py)."""
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def blocking_violations(page, where: str) -> list[str]:
    """axe-core's critical and serious violations on the page as it is now, one line per rule."""
    results = Axe().run(page)
    return [f"{where}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']][:5]}"
            for v in results.response["violations"] if v["impact"] in BLOCKING]


def focus_contrast(page) -> float:
    return page.evaluate(FOCUS_CONTRAST)


def focused(page) -> str:
    """The focused element, as a test reads it: tag, id, and its text or label."""
    return page.evaluate("""() => { const e = document.activeElement;
      const text = (e.getAttribute("aria-label") || e.innerText || e.value || "").trim();
      return `${e.tagName.toLowerCase()}#${e.id} ${text}`; }""")


def sign_in(page, base: str, username: str) -> None:
    """Logs in at any width (on a phone the Log out button is folded into the menu)."""
    page.goto(base + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def is_focused(locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def tab_to(page, target, *, limit: int = 60) -> int:
    """Presses Tab until `target` has focus, checking at every stop that the focus is visible
    (outline contrast of 3:1 or more, WCAG 1.4.11 and 2.4.7). Returns the number of Tab presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            continue  # past the last control, focus is in the browser's own UI
        contrast = focus_contrast(page)
        assert contrast >= 3, f"focus on {focused(page)} has an outline contrast of {contrast:.2f}:1"
        if is_focused(target):
            return presses
    raise AssertionError(f"{target} not reached in {limit} Tab presses; focus is on {focused(page)}")


def keyboard_sign_in(page, base: str, username: str) -> None:
    page.goto(base + reverse("login"))
    username_field = page.get_by_label("Username")
    if not is_focused(username_field):  # the login form focuses it itself
        tab_to(page, username_field)
    page.keyboard.type(username)
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(PASSWORD)
    press_and_follow(page, "Enter")


def press_and_follow(page, key: str) -> None:
    """Presses a key that navigates, and waits until the new page has loaded its styles."""
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press(key)
