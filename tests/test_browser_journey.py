"""The whole journey in a real browser, with the real worker and Redis.

Staff submit a real chest X-ray and watch the AI suggestion arrive; a radiologist finds the
case at the top of the worklist, looks at the heatmap and overrides with a note, using the
keyboard; staff then see the final finding. Every step is screenshotted to test-artifacts/,
and any server error or JavaScript console error fails the test.
"""

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from cases.models import Case, Review
from classifier.labels import FINDING_NAMES as LABELS
from classifier.training.data import DEFAULT_DATA_DIR
from tests.conftest import PASSWORD
from tests.factories import predicted_case

ROOT = Path(__file__).resolve().parent.parent
DATASET = DEFAULT_DATA_DIR  # ../shared/datasets/cxr, or CXR_DATASET_DIR
ARTIFACTS = ROOT / "test-artifacts" / "browser-journey"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.shared_data,
              pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]


def a_covid_image() -> Path:
    with (DATASET / "manifest.csv").open() as manifest:
        first = next(row for row in csv.DictReader(manifest) if row["label"] == "covid")
    return DATASET / first["file"]


class Watcher:
    """Collects what must never happen on any page: 5xx responses, console errors, page errors."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.problems.append(
            f"console error on {page.url}: {message.text}"))
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error on {page.url}: {error}"))
        page.on("response", lambda response: response.status >= 500 and self.problems.append(
            f"HTTP {response.status} from {response.url}"))

    def step(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        assert self.problems == [], f"at step {name}"


def log_in(page, base: str, username: str) -> None:
    page.goto(base + reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_staff_submit_a_radiologist_overrides_and_staff_see_the_final_finding(
        stack, live_server, clinic, staff, radiologist, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM checks while Playwright runs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Older routine cases already wait on the worklist; the new urgent one must go above them.
    for i in range(3):
        predicted_case(clinic, staff, "normal", mrn=f"ROUTINE-{i}", age=timedelta(hours=5 + i))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        watcher = Watcher(page)

        # Staff submit a real X-ray, marked urgent, and wait on the case page.
        log_in(page, live_server.url, staff.username)
        page.goto(live_server.url + reverse("cases:case_new"))
        page.get_by_label("Patient number (MRN)").fill("JOURNEY-1")
        page.get_by_label("View").select_option("PA")
        page.get_by_label("Symptoms").fill("Fever and dry cough for five days")
        page.get_by_label("Clinically urgent").check()
        page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(str(a_covid_image()))
        watcher.step(page, "01-staff-new-case")
        page.get_by_role("button", name="Submit case").click()
        expect(page.get_by_role("heading", name="Patient JOURNEY-1")).to_be_visible()
        watcher.step(page, "02-staff-case-submitted")

        # The worker's prediction appears by itself (the test never reloads the page).
        expect(page.get_by_test_id("ai-suggestion")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("AI suggestion, not reviewed")).to_be_visible()
        case = Case.objects.get(patient__mrn="JOURNEY-1")
        prediction = case.predictions.get()
        watcher.step(page, "03-staff-sees-ai-suggestion")
        log_out(page)

        # The radiologist finds it first on the worklist.
        log_in(page, live_server.url, radiologist.username)
        page.goto(live_server.url + reverse("cases:worklist"))
        rows = page.get_by_test_id("worklist").locator("tbody tr")
        expect(rows).to_have_count(4)
        expect(rows.first).to_have_attribute("data-case", str(case.public_id))
        expect(rows.first.locator("td").nth(4)).to_have_text(LABELS[prediction.label])
        watcher.step(page, "04-radiologist-worklist")

        # Opens it, turns the heatmap on and sets its opacity.
        rows.first.get_by_role("link", name="Review patient JOURNEY-1").click()
        viewer = page.locator("#viewer")
        expect(viewer).to_have_attribute("data-ready", "true")
        expect(viewer).to_have_attribute("data-heatmap-shown", "false")
        page.get_by_label("Heatmap (h)").check()
        page.get_by_label("Heatmap opacity").fill("70")
        expect(viewer).to_have_attribute("data-heatmap-shown", "true")
        page.get_by_role("button", name="Zoom in (+)").click()
        expect(viewer.locator(".viewer-status")).to_contain_text("Zoom 1.3×, heatmap on")
        watcher.step(page, "05-radiologist-heatmap")

        # Overrides with the keyboard: key 4 picks "Other / indeterminate", Ctrl+Enter signs. The keys act
        # only while focus is in the review form (WCAG 2.1.4), here on its first finding. Nothing is chosen
        # in advance, and the button names the finding once one is.
        expect(page.locator("#review-form input[name=finding]:checked")).to_have_count(0)
        page.locator("#review-form input[name=finding]").first.focus()
        page.keyboard.press("4")
        sign = page.locator("#review-form button[type=submit]")
        expect(sign).to_have_text("Sign: Other / indeterminate")
        page.get_by_label("Note (required when you override)").fill("Projection artefact; repeat PA film advised")
        watcher.step(page, "06-radiologist-override-form")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_text("Review signed for patient JOURNEY-1.")).to_be_visible()
        watcher.step(page, "07-radiologist-signed")
        review = Review.objects.get(case=case)
        assert (review.finding, review.agreed, review.reviewer, review.prediction) == (
            "other", False, radiologist, prediction)
        log_out(page)

        # Staff see the final finding and the note instead of the unreviewed suggestion.
        log_in(page, live_server.url, staff.username)
        page.goto(live_server.url + reverse("cases:case_detail", args=[case.public_id]))
        expect(page.get_by_test_id("final-finding")).to_have_text("Other / indeterminate")
        expect(page.get_by_test_id("final-note")).to_contain_text("Projection artefact")
        expect(page.get_by_text("AI suggestion, not reviewed")).to_have_count(0)
        watcher.step(page, "08-staff-final-finding")

        # The printable report carries the finding, the reviewer and the disclaimer.
        page.get_by_role("link", name="Printable report").click()
        page.emulate_media(media="print")
        expect(page.get_by_test_id("final-finding")).to_have_text("Other / indeterminate")
        expect(page.get_by_test_id("disclaimer")).to_contain_text("Research software, not a diagnosis")
        expect(page.get_by_role("button", name="Print")).to_be_hidden()
        watcher.step(page, "09-printable-report")
        browser.close()
