"""Logging in: the login page, lockout after failed attempts, idle sessions and password rules."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

import cxrsite.settings as project_settings
from cxrsite.hashers import OWASPArgon2PasswordHasher
from cxrsite.middleware import REFRESHED_KEY
from tests.conftest import PASSWORD

LOGIN = reverse("login")


def log_in(client, username: str, password: str, ip: str = "10.0.0.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_login_page_is_public_and_rendered_with_bootstrap_fields(client, db):
    page = client.get(LOGIN).content.decode()
    assert 'class="textinput form-control"' in page and 'name="username"' in page and 'name="password"' in page


def test_a_user_logs_in_and_lands_on_the_home_page(client, staff):
    response = log_in(client, "nurse", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("cases:home")


def test_a_wrong_password_shows_an_error_without_saying_which_part_was_wrong(client, staff):
    page = log_in(client, "nurse", "wrong-password-123").content.decode()
    assert "Please enter a correct username and password" in page


def test_repeated_failures_lock_the_username_from_that_address_even_with_the_right_password(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "nurse", "wrong-password-123")
    locked = log_in(client, "nurse", PASSWORD)
    assert locked.status_code == 429 and "Too many failed log-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_for_that_username_and_address_together(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "nurse", "wrong-password-123", ip="10.0.0.7")
    assert log_in(client, "nurse", PASSWORD, ip="10.0.0.8").status_code == 302


def test_the_lockout_ends_after_the_cool_off_time(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "nurse", "wrong-password-123")
    assert log_in(client, "nurse", PASSWORD).status_code == 429
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert log_in(client, "nurse", PASSWORD).status_code == 302


def test_sessions_expire_after_thirty_idle_minutes(client, staff):
    log_in(client, "nurse", PASSWORD)
    client.get(reverse("cases:case_list"))
    session = Session.objects.get()
    remaining = session.expire_date - timezone.now()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))  # 30 idle minutes later
    response = client.get(reverse("cases:case_list"))
    assert response.status_code == 302 and response.url.startswith(LOGIN)


def idle(client, *, minutes: int) -> None:
    """As if the user had done nothing for that long: the session's expiry and its last refresh move back."""
    session = client.session
    session[REFRESHED_KEY] -= minutes * 60
    session.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=30 - minutes))


def test_each_request_restarts_the_idle_clock(client, staff):
    log_in(client, "nurse", PASSWORD)
    idle(client, minutes=29)
    client.get(reverse("cases:case_list"))
    assert Session.objects.get().expire_date - timezone.now() > timedelta(minutes=29)


@pytest.mark.parametrize("password", ["short-pw-11", "123456789012345", "password1234"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_uncommon_password_is_accepted():
    validate_password("violet-harbour-lantern-42")


def test_the_minimum_password_length_is_twelve():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("a7#kq2!zp0x")


def test_passwords_are_hashed_with_argon2id_at_owasps_cost():
    assert project_settings.PASSWORD_HASHERS[0] == "cxrsite.hashers.OWASPArgon2PasswordHasher"
    hasher = OWASPArgon2PasswordHasher()
    encoded = hasher.encode("violet-harbour-lantern-42", hasher.salt())
    assert encoded.startswith("argon2$argon2id$v=19$m=47104,t=1,p=1$")
    assert hasher.verify("violet-harbour-lantern-42", encoded)
    assert not hasher.verify("violet-harbour-lantern-43", encoded)


def test_a_password_hashed_with_djangos_default_cost_still_logs_in_and_is_rehashed(client, staff, settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    staff.password = make_password(PASSWORD, hasher=Argon2PasswordHasher())  # m=102400 before this change
    staff.save(update_fields=["password"])
    assert log_in(client, "nurse", PASSWORD).status_code == 302
    staff.refresh_from_db()
    assert staff.password.startswith("argon2$argon2id$v=19$m=47104,t=1,p=1$")


def test_the_health_check_is_public_and_reports_the_database(client, db):
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json" and response.json()["database"] is True


def test_logging_out_needs_a_post(client, staff):
    client.force_login(staff)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302


def test_pages_within_a_minute_of_the_last_refresh_write_no_session(client, staff):
    log_in(client, "nurse", PASSWORD)
    client.get(reverse("cases:case_list"))
    before = Session.objects.get().expire_date
    client.get(reverse("cases:case_list"))
    assert Session.objects.get().expire_date == before  # not saved again: one write a minute at most


def test_a_post_never_writes_the_session_for_the_idle_clock(client, staff):
    log_in(client, "nurse", PASSWORD)
    idle(client, minutes=5)
    before = Session.objects.get().expire_date
    client.post(reverse("cases:case_new"), {})  # an invalid form: the page is shown again
    assert Session.objects.get().expire_date == before
