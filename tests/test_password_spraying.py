"""Password spraying: one password tried over many usernames from one address locks that address out."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD

SPRAYED = "Winter2026!"
ATTACKER = "203.0.113.9"
CLINIC = "10.0.0.7"


def log_in(client, username: str, password: str, ip: str):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def spray(client, count: int) -> None:
    """`count` failed log-ins from ATTACKER, each under another name: no username reaches its own limit."""
    for i in range(count):
        log_in(client, f"user{i:03}", SPRAYED, ATTACKER)


def test_spraying_locks_out_the_address_while_a_users_normal_log_in_elsewhere_works(client, staff, settings):
    log_in(client, "nurse", "typo-in-the-password", CLINIC)
    spray(client, settings.CXR_ADDRESS_FAILURE_LIMIT)

    locked = log_in(client, "nurse", PASSWORD, ATTACKER)  # even a right password, from there
    assert locked.status_code == 429 and "Too many failed log-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert log_in(client, "nurse", PASSWORD, CLINIC).status_code == 302


def test_a_sprayer_cannot_reset_the_count_by_logging_in_to_its_own_account_between_rounds(client, staff, settings):
    spray(client, settings.CXR_ADDRESS_FAILURE_LIMIT - 1)
    assert log_in(client, "nurse", PASSWORD, ATTACKER).status_code == 302
    client.post(reverse("logout"))
    log_in(client, "someone-else", SPRAYED, ATTACKER)
    assert log_in(client, "nurse", PASSWORD, ATTACKER).status_code == 429


def test_the_address_lockout_ends_after_the_cool_off_time(client, staff, settings):
    spray(client, settings.CXR_ADDRESS_FAILURE_LIMIT)
    assert log_in(client, "nurse", PASSWORD, ATTACKER).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert log_in(client, "nurse", PASSWORD, ATTACKER).status_code == 302
