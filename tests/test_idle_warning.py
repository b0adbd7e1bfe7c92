"""The idle logout's warning: pages tell the browser how long the session has left, and
"Stay signed in" refreshes the session at once."""

import time

from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

from cxrsite.middleware import REFRESHED_KEY

STAY = reverse("stay_signed_in")


def test_a_signed_in_page_says_how_long_the_session_has_left(client, staff):
    client.force_login(staff)
    page = client.get(reverse("cases:case_list")).content.decode()
    left = int(page.split('data-expires-in="')[1].split('"')[0])
    assert settings.SESSION_COOKIE_AGE - 5 <= left <= settings.SESSION_COOKIE_AGE
    assert 'role="alertdialog"' in page and "Stay signed in" in page


def test_the_warning_counts_from_the_last_refresh_not_from_this_page(client, staff):
    client.force_login(staff)
    session = client.session
    session[REFRESHED_KEY] = int(time.time()) - 50  # refreshed 50 s ago: this GET does not refresh again
    session.save()
    page = client.get(reverse("cases:case_list")).content.decode()
    left = int(page.split('data-expires-in="')[1].split('"')[0])
    assert settings.SESSION_COOKIE_AGE - 55 <= left <= settings.SESSION_COOKIE_AGE - 49


def test_stay_signed_in_saves_the_session_at_once(client, staff):
    client.force_login(staff)
    session = client.session
    session[REFRESHED_KEY] = int(time.time()) - 10  # the middleware alone would not save it now
    session.save()
    before = Session.objects.get().expire_date
    time.sleep(1.1)
    response = client.get(STAY)
    assert (response.status_code, response.json()) == (200, {"expires_in": settings.SESSION_COOKIE_AGE})
    assert response["Cache-Control"] == "private, no-store"
    assert Session.objects.get().expire_date > before


def test_signed_out_users_get_no_warning_and_stay_signed_in_sends_them_to_log_in(client):
    assert "idle-warning" not in client.get(reverse("login")).content.decode()
    response = client.get(STAY)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(STAY).status_code == 302


def test_stay_signed_in_answers_only_get(client, staff):
    client.force_login(staff)
    assert client.post(STAY).status_code == 405
