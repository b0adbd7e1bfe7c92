"""Every page of every role in each shipped language (French, Portuguese, Spanish, Swahili) and in the
right-to-left Arabic preview, in Chromium at desktop (1366 px) and phone (390 px) width: the page says its
language, nothing scrolls sideways (translations run longer than English), and axe-core finds no critical
or serious violation. Then, right to left: the page is mirrored but the film is not, and the viewer and the
language switcher still work from the keyboard alone."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import Case, Profile
from tests.a11y import DESKTOP, PHONE, blocking_violations, chromium, press_and_follow, sign_in, tab_to  # noqa: F401
from tests.test_browser_accessibility import cases  # noqa: F401 (a fixture: a case in each state)
from tests.test_language_preference import WITH_ARABIC

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["fr", "pt", "es", "sw", "ar"]

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The innermost elements that stick out of the page, to say in the failure what ran too long.
STICKING_OUT = """() => { const width = document.documentElement.clientWidth;
  return [...document.body.querySelectorAll("*")].filter(e => { const box = e.getBoundingClientRect();
      return (box.right > width + 1 || box.left < -1) && ![...e.children].some(c => {
        const b = c.getBoundingClientRect(); return b.right > width + 1 || b.left < -1; }); })
    .slice(0, 3).map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} "${e.textContent.trim().slice(0, 40)}"`); }"""


@pytest.fixture(autouse=True)
def _arabic_switched_on(settings):
    settings.LANGUAGES = WITH_ARABIC


def case_url(name: str, case: Case) -> str:
    return reverse(name, args=[case.public_id])


def pages_of(role: str, cases, clinic) -> list[str]:  # noqa: F811
    if role == "staff":
        return ([reverse("cases:case_list"), reverse("cases:case_list") + "?mrn=nobody-has-this",
                 reverse("cases:case_new"), reverse("cases:notifications"), reverse("cases:outbox")]
                + [case_url("cases:case_detail", case) for case in cases.values()]
                + [case_url("cases:report", cases["reviewed"])])
    if role == "radiologist":
        worklist = reverse("cases:worklist")
        return ([worklist, worklist + "?status=all", worklist + "?submitted_from=not-a-date",
                 reverse("cases:notifications")]
                + [case_url("cases:review", case) for case in cases.values()]
                + [case_url("cases:report", cases["reviewed"])])
    audit = [reverse("audit:events"), reverse("audit:events") + "?since=2026-02-01&until=2026-01-01",
             case_url("audit:timeline", cases["reviewed"]), reverse("audit:oversight"),
             reverse("audit:oversight_clinics"), reverse("audit:validation"),
             reverse("audit:validation_clinic", args=[clinic.pk])]
    if role == "clinic_auditor":
        return audit
    return audit + [reverse("audit:operating_points"), case_url("cases:case_detail", cases["failed"])] + [
        reverse(name) for name in ("admin:index", "admin:auth_user_changelist", "admin:cases_case_changelist",
                                   "admin:cases_clinic_changelist", "admin:cases_auditevent_changelist")] + [
        reverse("admin:cases_case_change", args=[cases["reviewed"].pk])]


def problems_on(page, language: str, where: str) -> list[str]:
    found = []
    lang = page.evaluate("document.documentElement.lang")
    if lang != language:
        found.append(f"{where}: <html lang={lang!r}>")
    sideways = page.evaluate(SIDEWAYS)
    if sideways > 0:
        found.append(f"{where}: scrolls sideways by {sideways} px: {page.evaluate(STICKING_OUT)}")
    return found + blocking_violations(page, where)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ["staff", "radiologist", "administrator", "clinic_auditor"])
def test_every_page_of_every_role_reads_in_the_language_without_sideways_scroll_or_serious_violation(
        live_server, chromium, cases, clinic, staff, radiologist, administrator, one_clinic_auditor,  # noqa: F811
        role, language):
    user = {"staff": staff, "radiologist": radiologist, "administrator": administrator,
            "clinic_auditor": one_clinic_auditor}[role]
    found = []
    for viewport in (DESKTOP, PHONE):
        page = chromium.new_context(viewport=viewport).new_page()
        sign_in(page, live_server.url, user.username)  # in English: the choice is the profile's, below
        Profile.objects.update_or_create(user=user, defaults={"language": language})
        for url in pages_of(role, cases, clinic):
            page.goto(live_server.url + url)  # waits for "load": the deferred scripts have run
            found += problems_on(page, language, f"{url} at {viewport['width']} px")
        page.context.close()
        Profile.objects.filter(user=user).delete()
    assert found == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_page_reads_in_the_browsers_language_without_sideways_scroll_or_serious_violation(
        live_server, chromium, language):  # noqa: F811
    found = []
    for viewport in (DESKTOP, PHONE):
        page = chromium.new_context(viewport=viewport, locale=language).new_page()
        page.goto(live_server.url + reverse("login"))
        found += problems_on(page, language, f"login at {viewport['width']} px")
        page.context.close()
    assert found == []


# Records each text the viewer's live region takes (as tests/test_browser_keyboard.py does).
RECORD_VIEWER_STATUS = """() => {
  window.viewerSaid = [];
  const region = document.querySelector(".viewer-status");
  new MutationObserver(() => window.viewerSaid.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


def pixel(png: bytes, where: str) -> tuple:
    import io

    from PIL import Image
    image = Image.open(io.BytesIO(png)).convert("RGB")
    x = 2 if where == "left" else image.width - 3
    return image.getpixel((x, image.height // 2))


def test_right_to_left_the_page_mirrors_but_the_film_does_not_and_everything_works_from_the_keyboard(
        live_server, chromium, clinic, staff, radiologist):  # noqa: F811
    from tests.factories import predicted_case
    case, _ = predicted_case(clinic, staff, "covid", mrn="RTL-1")
    review = live_server.url + case_url("cases:review", case)
    films = {}
    for language in ("en-gb", "ar"):
        Profile.objects.update_or_create(user=radiologist, defaults={"language": language})
        page = chromium.new_context(viewport=DESKTOP).new_page()
        sign_in(page, live_server.url, radiologist.username)
        page.goto(review)
        expect(page.locator("#viewer")).to_have_attribute("data-ready", "true")
        films[language] = page.locator("canvas.viewer-canvas").evaluate("canvas => canvas.toDataURL()")
        if language == "en-gb":
            page.context.close()
            continue

        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
        assert page.locator(".navbar-brand").bounding_box()["x"] > DESKTOP["width"] / 2  # starts at the right

        # The viewer from the keyboard: zoom, the heatmap and its opacity.
        page.evaluate(RECORD_VIEWER_STATUS)
        zoom_in = page.locator("[data-action=zoom-in]")
        tab_to(page, zoom_in)
        page.keyboard.press("Enter")
        heatmap = page.locator("#viewer-heatmap")
        tab_to(page, heatmap)
        page.keyboard.press("Space")
        expect(heatmap).to_be_checked()
        expect(page.locator("[data-testid=heatmap-legend]")).to_be_visible()
        assert len(page.evaluate("window.viewerSaid")) == 2, "zoom and the heatmap were not both announced"
        opacity = page.locator("input[name=opacity]")
        tab_to(page, opacity)
        before = int(opacity.input_value())
        page.keyboard.press("ArrowUp")
        assert int(opacity.input_value()) == before + 1

        # The legend's scale reads from the start of the line: cool (grey) at the right, hot (yellow) at the left.
        scale = page.locator(".heatmap-legend-scale").screenshot()
        right, left = pixel(scale, "right"), pixel(scale, "left")
        assert abs(right[0] - right[1]) < 40 and abs(right[1] - right[2]) < 40, f"not grey at the right: {right}"
        assert left[0] > 200 and left[1] > 200 and left[2] < 80, f"not yellow at the left: {left}"

        # The switcher from the keyboard: back to English.
        choice = page.locator("#language-choice")
        tab_to(page, choice, limit=120)
        page.keyboard.type("English")
        page.keyboard.press("Tab")
        press_and_follow(page, "Enter")
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["en-gb", "ltr"]
        assert Profile.objects.get(user=radiologist).language == "en-gb"
        page.context.close()

    assert films["ar"] == films["en-gb"], "the film is drawn differently right to left"
