"""`seed_demo`: one clinic and one user per role, created once, with passwords shown once."""

import re
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from cases.access import can_audit, can_review, can_submit, clinics_for
from cases.models import Clinic


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def log_in(username: str, password: str):
    return authenticate(RequestFactory().post("/accounts/login/"), username=username, password=password)


def test_it_creates_a_clinic_and_one_user_per_role_with_printed_passwords(db):
    output = seed()
    passwords = dict(re.findall(r"(demo_\w+)\s+(\S+)$", output, flags=re.MULTILINE))
    assert set(passwords) == {"demo_staff", "demo_radiologist", "demo_admin"}
    staff, radiologist, admin = (log_in(name, passwords[name])
                                 for name in ("demo_staff", "demo_radiologist", "demo_admin"))
    assert can_submit(staff) and not can_review(staff)
    assert can_review(radiologist) and not can_submit(radiologist)
    assert can_audit(admin) and admin.is_staff and not admin.is_superuser
    assert list(clinics_for(staff)) == [Clinic.objects.get(code="demo")] == list(clinics_for(radiologist))
    assert not any(password in user.password for password in passwords.values() for user in User.objects.all())


def test_a_second_run_changes_nothing_and_does_not_print_passwords(db):
    seed()
    hashes = dict(User.objects.values_list("username", "password"))
    output = seed()
    assert "Demo data already exists; nothing changed." in output and "changepassword" in output
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert sorted(Clinic.objects.values_list("code", flat=True)) == ["demo", "demo-silent"]  # the live and the silent


def test_passwords_can_come_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("CXR_DEMO_PASSWORD", "violet-harbour-lantern-42")
    monkeypatch.setenv("CXR_DEMO_ADMIN_PASSWORD", "amber-quarry-window-77")
    output = seed()
    assert "violet-harbour-lantern-42" not in output and "(from the environment)" in output
    assert log_in("demo_staff", "violet-harbour-lantern-42") is not None
    assert log_in("demo_admin", "amber-quarry-window-77") is not None


def test_a_weak_password_from_the_environment_is_refused(db, monkeypatch):
    monkeypatch.setenv("CXR_DEMO_PASSWORD", "password")
    with pytest.raises(CommandError, match="too weak"):
        seed()
    assert not User.objects.exists()


def test_a_deleted_demo_user_is_recreated_without_touching_the_others(db):
    seed()
    User.objects.filter(username="demo_radiologist").delete()
    hash_before = User.objects.get(username="demo_staff").password
    output = seed()
    assert "demo_radiologist" in output and "demo_staff" not in output
    assert User.objects.get(username="demo_staff").password == hash_before


@pytest.mark.local_validation
def test_the_demo_clinic_is_live_and_the_second_demo_clinic_silent(db):
    from cases.models import AuditEvent
    from cases.validation.selectors import ai_state
    from classifier.registry import served_version

    output = seed()
    version = served_version()
    assert ai_state(Clinic.objects.get(code="demo"), version) == "live"
    assert ai_state(Clinic.objects.get(code="demo-silent"), version) == "silent"
    assert "(validating)" in output
    event = AuditEvent.objects.get(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED)
    assert event.details["to"] == "live" and "demo" in event.details["reason"]
    seed()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED).count() == 1
