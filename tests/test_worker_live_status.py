"""The case page shows the prediction by itself when the worker writes it (real browser, worker, Redis)."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from cases.models import Case
from cases.classification.caveats import staff_label
from tests.factories import make_case
from cxrsite.testing.stack import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("worker_storage")]




def test_the_prediction_appears_on_an_open_case_page_without_reloading(
        stack, live_server, client, settings, staff, clinic, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM calls while Playwright runs
    case = make_case(clinic, staff, status=Case.Status.QUEUED)  # its message lost: only the reaper will send it
    client.force_login(staff)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox"])
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                              "url": live_server.url}])
        page = context.new_page()
        page.goto(live_server.url + reverse("cases:case_detail", args=[case.public_id]))
        expect(page.get_by_test_id("status-message")).to_contain_text("Waiting for the classifier")
        expect(page.get_by_test_id("ai-suggestion")).to_have_count(0)

        settings.CXR_REQUEUE_AFTER_SECONDS = 0  # only now: a case past the period is shown as delayed
        call_command("requeue_stuck_cases")
        wait_for(lambda: Case.objects.get(pk=case.pk).status == Case.Status.PREDICTED, timeout=30,
                 what="the worker's prediction")

        label = case.predictions.get().label
        expect(page.get_by_test_id("ai-suggestion")).to_have_text(staff_label(label, case.patient.birth_year),
                                                                  timeout=15_000)
        expect(page.get_by_test_id("status-message")).to_contain_text("Awaiting review")
        browser.close()
