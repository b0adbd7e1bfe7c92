"""The idle logout warns a minute ahead, and "Stay signed in" keeps the session (WCAG 2.2.1)."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.a11y import DESKTOP, chromium, sign_in  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_minute_before_the_idle_logout_a_warning_takes_focus_and_stay_signed_in_extends_the_session(
        live_server, staff, chromium, settings):  # noqa: F811
    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.clock.install()  # the page's timers run on a clock the test moves
    sign_in(page, live_server.url, staff.username)
    page.goto(live_server.url + reverse("cases:case_list"))
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_hidden()

    page.clock.run_for((settings.SESSION_COOKIE_AGE - 90) * 1000)
    expect(warning).to_be_hidden()  # not yet: 90 s left
    page.clock.run_for(31 * 1000)
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("You will be logged out in about a minute")
    stay = warning.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()

    Session.objects.update(expire_date=timezone.now() + timedelta(seconds=30))  # the server's clock is real
    with page.expect_response(lambda response: response.url.endswith(reverse("stay_signed_in"))):
        page.keyboard.press("Enter")
    expect(warning).to_be_hidden()
    session = Session.objects.get()
    assert session.expire_date > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    page.context.close()
