"""In Chromium: Back then Submit files no second case; what was typed survives a logout in another tab
and an idle logout, and comes back after logging in (the file must be chosen again, and the page says
so); typing postpones the idle warning; a PNG without a patient number is stopped in the browser."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Case
from cxrsite.testing.images import png_bytes
from tests.a11y import DESKTOP, blocking_violations, chromium  # noqa: F401 (a fixture)
from tests.conftest import PASSWORD
from tests.factories import predicted_case, refused_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_CASE = reverse("cases:case_new")


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr("cases.intake.services.enqueue_case", lambda case_id: None)


@pytest.fixture
def film(tmp_path):
    path = tmp_path / "chest.png"
    path.write_bytes(png_bytes(seed=5))
    return str(path)


@pytest.fixture
def context(chromium):  # noqa: F811
    context = chromium.new_context(viewport=DESKTOP)
    yield context
    context.close()


def log_in_here(page):
    """The login form this page was sent to; afterwards the browser goes where it was going."""
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def go_to_login(page, base, username, then: str):
    page.goto(base + reverse("login") + f"?next={then}")
    page.get_by_label("Username").fill(username)
    log_in_here(page)


def fill_case(page, film, mrn="NL-1"):
    page.get_by_label("Patient number (MRN)").fill(mrn)
    page.get_by_label("Age (years)").fill("61")
    page.get_by_label("View").select_option("PA")
    page.get_by_label("Symptoms").fill("Cough for a week, night sweats")
    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(film)


def test_back_then_submit_files_no_second_case_and_links_to_the_first(live_server, staff, context, film):
    page = context.new_page()
    go_to_login(page, live_server.url, staff.username, NEW_CASE)
    fill_case(page, film)
    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_text("Case submitted.")).to_be_visible()
    case = Case.objects.get()

    page.go_back()
    expect(page.get_by_label("Patient number (MRN)")).to_have_value("NL-1")
    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(film)  # as if the browser kept it
    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_test_id("already-filed")).to_contain_text("Nothing new was filed")
    assert Case.objects.count() == 1
    assert blocking_violations(page, "already filed") == []
    page.get_by_role("link", name="Open the case already filed").click()
    expect(page).to_have_url(live_server.url + reverse("cases:case_detail", args=[case.public_id]))


def test_a_form_sent_after_a_logout_in_another_tab_comes_back_filled_after_logging_in(live_server, staff, context,
                                                                                      film):
    page = context.new_page()
    go_to_login(page, live_server.url, staff.username, NEW_CASE)
    fill_case(page, film)
    page.get_by_label("Clinically urgent").check()

    other_tab = context.new_page()
    other_tab.goto(live_server.url + reverse("cases:case_list"))
    other_tab.get_by_role("button", name="Log out").click()
    expect(other_tab.get_by_role("button", name="Log in")).to_be_visible()

    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert not Case.objects.exists()
    page.get_by_label("Username").fill(staff.username)
    log_in_here(page)

    expect(page).to_have_url(live_server.url + NEW_CASE)
    restored = page.get_by_test_id("draft-restored")
    expect(restored).to_contain_text("Choose the image file again")
    expect(page.get_by_label("Patient number (MRN)")).to_have_value("NL-1")
    expect(page.get_by_label("Symptoms")).to_have_value("Cough for a week, night sweats")
    expect(page.get_by_label("View")).to_have_value("PA")
    expect(page.get_by_label("Clinically urgent")).to_be_checked()
    assert blocking_violations(page, "new case, restored") == []

    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(film)
    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_text("Case submitted.")).to_be_visible()
    case = Case.objects.get()
    assert (case.patient.mrn, case.symptoms, case.urgent) == ("NL-1", "Cough for a week, night sweats", True)
    page.goto(live_server.url + NEW_CASE)  # the draft went with the submission
    expect(page.get_by_label("Patient number (MRN)")).to_have_value("")
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)


def test_the_review_page_keeps_an_unsent_note_through_an_idle_logout(live_server, clinic, staff, radiologist,
                                                                    context):
    case, _ = predicted_case(clinic, staff, "covid", mrn="NL-2")
    page = context.new_page()
    review = reverse("cases:review", args=[case.public_id])
    go_to_login(page, live_server.url, radiologist.username, review)
    page.get_by_label("Note").fill("Subtle left basal opacity; compare with the last film")

    Session.objects.all().delete()  # the session ends (idle logout) while the note is unsent
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(radiologist.username)
    log_in_here(page)

    expect(page).to_have_url(live_server.url + review)
    expect(page.get_by_label("Note")).to_have_value("Subtle left basal opacity; compare with the last film")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.locator("#review-form input[name=finding]:checked")).to_have_count(0)


def test_typing_counts_as_activity_and_postpones_the_idle_warning(live_server, staff, context, settings):
    page = context.new_page()
    page.clock.install()
    go_to_login(page, live_server.url, staff.username, NEW_CASE)
    warning = page.get_by_role("alertdialog")
    page.clock.run_for((settings.SESSION_COOKIE_AGE - 120) * 1000)
    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=120))  # the server's clock is real
    with page.expect_response(lambda response: response.url.endswith(reverse("stay_signed_in"))):
        page.get_by_label("Symptoms").press_sequentially("Fever")
    page.clock.run_for(100 * 1000)  # past the moment the warning was due
    expect(warning).to_be_hidden()
    assert Session.objects.get().expire_date > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    page.clock.run_for((settings.SESSION_COOKIE_AGE - 100) * 1000)  # no more typing: it comes in the end
    expect(warning).to_be_visible()


def test_a_png_without_a_patient_number_is_stopped_in_the_browser_keeping_the_file(live_server, staff, context,
                                                                                  film):
    page = context.new_page()
    go_to_login(page, live_server.url, staff.username, NEW_CASE)
    fill_case(page, film, mrn="")
    page.get_by_role("button", name="Submit case").click()
    expect(page.locator("#mrn-needed")).to_be_visible()
    expect(page.get_by_label("Patient number (MRN)")).to_be_focused()
    expect(page.get_by_label("Patient number (MRN)")).to_have_attribute("aria-invalid", "true")
    assert page.locator("input[name=image]").evaluate("input => input.files.length") == 1
    assert not Case.objects.exists()
    assert blocking_violations(page, "new case, number missing") == []
    page.get_by_label("Patient number (MRN)").fill("NL-3")
    expect(page.locator("#mrn-needed")).to_be_hidden()
    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_text("Case submitted.")).to_be_visible()


def test_staff_replace_a_refused_image_then_the_first_case_says_it_was_withdrawn(live_server, clinic, staff,
                                                                                 context, film):
    case, _ = refused_case(clinic, staff, mrn="NL-4")
    page = context.new_page()
    go_to_login(page, live_server.url, staff.username, reverse("cases:case_detail", args=[case.public_id]))
    expect(page.get_by_test_id("refused-actions")).to_be_visible()
    assert blocking_violations(page, "refused case, staff") == []
    page.get_by_label("A better image (PNG, JPEG or DICOM)").set_input_files(film)
    page.get_by_role("button", name="Send the new image").click()
    expect(page.get_by_text("The new image was filed as a new case")).to_be_visible()
    expect(page.get_by_test_id("replaces")).to_be_visible()
    page.get_by_role("link", name="an earlier one the input check refused").click()
    expect(page.get_by_test_id("withdrawn")).to_contain_text("Withdrawn by the clinic.")
    expect(page.get_by_test_id("refused-actions")).to_have_count(0)
    assert blocking_violations(page, "withdrawn case") == []
    assert Case.objects.get(pk=case.pk).replaced_by is not None
