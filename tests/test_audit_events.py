"""Logins, user/role/clinic changes, case edits and model activation each write exactly one event."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django.utils import timezone

from cases.access import RADIOLOGIST_GROUP, STAFF_GROUP
from cases.models import AuditEvent, Clinic
from classifier.registry import activate_version
from tests.conftest import PASSWORD
from tests.factories import make_case, model_version


def only_event(action: str) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action))
    assert len(events) == 1, [e.details for e in events]
    return events[0]


def post_login(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_a_successful_login_records_the_user_and_address(client, staff):
    assert post_login(client, "nurse", PASSWORD).status_code == 302
    event = only_event("login_succeeded")
    assert (event.actor, event.actor_label, event.ip_address) == (staff, "nurse", "127.0.0.1")


def test_a_failed_login_records_the_username_tried_and_no_actor(client, staff):
    assert post_login(client, "nurse", "wrong-password").status_code == 200
    event = only_event("login_failed")
    assert (event.actor, event.actor_label, event.ip_address) == (None, "nurse", "127.0.0.1")
    assert event.details == {"username": "nurse", "locked_out": False}
    assert not AuditEvent.objects.filter(action="login_succeeded").exists()


def test_a_login_as_an_unknown_user_is_recorded_under_the_name_tried(client, db):
    post_login(client, "=cmd|' /C calc'!A0", "whatever")
    assert only_event("login_failed").actor_label == "=cmd|' /C calc'!A0"


def test_every_failed_attempt_is_recorded_and_the_one_that_locks_the_account_says_so(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        post_login(client, "nurse", "wrong-password")
    events = AuditEvent.objects.filter(action="login_failed").order_by("id")
    assert [e.details["locked_out"] for e in events] == [False] * (settings.AXES_FAILURE_LIMIT - 1) + [True, True]


def test_a_login_does_not_count_as_a_user_change(client, staff):
    before = AuditEvent.objects.filter(action="user_changed").count()
    post_login(client, "nurse", PASSWORD)
    assert AuditEvent.objects.filter(action="user_changed").count() == before


def test_opening_another_clinics_case_is_recorded_as_access_denied(client, clinic, staff, other_staff):
    case = make_case(clinic, staff)
    client.force_login(other_staff)
    url = reverse("cases:case_detail", args=[case.public_id])
    assert client.get(url, REMOTE_ADDR="10.0.0.7").status_code == 404
    event = only_event("access_denied")
    assert (event.actor, event.case, event.clinic, event.ip_address) == (other_staff, case, clinic, "10.0.0.7")
    assert event.details == {"path": url}


def test_creating_a_user_records_who_was_created_without_the_password(db):
    User.objects.create_user("newcomer", email="n@example.org", password=PASSWORD)
    event = only_event("user_changed")
    assert event.details["object"] == "newcomer"
    assert event.details["operation"] == "created"
    assert event.details["changes"]["email"] == {"before": None, "after": "n@example.org"}
    assert event.details["changes"]["password"] == {"before": None, "after": "(hidden)"}


def test_changing_a_users_fields_records_before_and_after(staff):
    last = AuditEvent.objects.latest("id").id
    staff.email, staff.is_active = "nurse@hillside.example", False
    staff.save()
    staff.set_password("another-long-password-1")
    staff.save()
    events = list(AuditEvent.objects.filter(id__gt=last).order_by("id"))
    assert [e.action for e in events] == ["user_changed", "user_changed"]
    assert events[0].details == {"model": "user", "object": "nurse", "operation": "updated", "changes": {
        "email": {"before": "", "after": "nurse@hillside.example"}, "is_active": {"before": True, "after": False}}}
    assert events[1].details["changes"] == {"password": {"before": "(hidden)", "after": "(hidden)"}}


@pytest.mark.parametrize("change", [
    lambda user, group: user.groups.add(group),
    lambda user, group: group.user_set.add(user),
])
def test_adding_a_user_to_a_group_records_the_groups_before_and_after(staff, change):
    last = AuditEvent.objects.latest("id").id
    change(staff, Group.objects.get(name=RADIOLOGIST_GROUP))
    event = AuditEvent.objects.get(id__gt=last)
    assert (event.action, event.details["object"]) == ("user_changed", "nurse")
    assert event.details["changes"] == {
        "groups": {"before": [STAFF_GROUP], "after": sorted([RADIOLOGIST_GROUP, STAFF_GROUP])}}


def test_clearing_a_users_groups_records_one_event(staff):
    last = AuditEvent.objects.latest("id").id
    staff.groups.clear()
    event = AuditEvent.objects.get(id__gt=last)
    assert event.details["changes"] == {"groups": {"before": [STAFF_GROUP], "after": []}}


def test_removing_a_user_from_a_clinic_records_the_clinics_before_and_after(staff, clinic):
    # Always from the clinic's side: simple-history's m2m tracking fails on user.clinics.remove().
    last = AuditEvent.objects.latest("id").id
    clinic.members.remove(staff)
    event = AuditEvent.objects.get(id__gt=last)
    assert (event.action, event.details["object"]) == ("user_changed", "nurse")
    assert event.details["changes"] == {"clinics": {"before": ["hillside"], "after": []}}


def test_adding_a_user_to_a_clinic_they_already_belong_to_records_nothing(staff, clinic):
    last = AuditEvent.objects.latest("id").id
    clinic.members.add(staff)
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_renaming_a_group_and_granting_it_a_permission_are_recorded(db):
    group = Group.objects.create(name="Night shift")
    last = AuditEvent.objects.latest("id").id
    group.name = "Night radiologists"
    group.save()
    group.permissions.add(Permission.objects.get(codename="add_review"))
    events = list(AuditEvent.objects.filter(id__gt=last).order_by("id"))
    assert [e.action for e in events] == ["group_changed", "group_changed"]
    assert events[0].details["changes"] == {"name": {"before": "Night shift", "after": "Night radiologists"}}
    assert events[1].details["changes"] == {"permissions": {"before": [], "after": ["cases.add_review"]}}


def test_creating_and_renaming_a_clinic_are_recorded_against_the_clinic(db):
    clinic = Clinic.objects.create(name="Lakeside Clinic", code="lakeside")
    created = only_event("clinic_changed")
    assert (created.clinic, created.details["operation"]) == (clinic, "created")
    clinic.name = "Lakeside Health Centre"
    clinic.save()
    renamed = AuditEvent.objects.filter(action="clinic_changed").latest("id")
    assert renamed.clinic == clinic
    assert renamed.details["changes"] == {"name": {"before": "Lakeside Clinic", "after": "Lakeside Health Centre"}}


def test_a_change_made_through_the_admin_names_the_administrator(client, db):
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    group = Group.objects.create(name="Night shift")
    client.force_login(root)
    response = client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "Day shift"})
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action="group_changed").latest("id")
    assert (event.actor, event.ip_address) == (root, "127.0.0.1")
    assert event.details["changes"] == {"name": {"before": "Night shift", "after": "Day shift"}}


def test_editing_a_case_records_the_fields_before_and_after(clinic, staff):
    case = make_case(clinic, staff, symptoms="cough")
    last = AuditEvent.objects.latest("id").id
    case.symptoms, case.urgent = "cough, fever", True
    case.save()
    event = AuditEvent.objects.get(id__gt=last)
    assert (event.action, event.case, event.clinic) == ("case_edited", case, clinic)
    assert event.details["changes"] == {"symptoms": {"before": "cough", "after": "cough, fever"},
                                        "urgent": {"before": False, "after": True}}


def test_a_workflow_status_change_is_not_a_case_edit(clinic, staff):
    case = make_case(clinic, staff)
    last = AuditEvent.objects.latest("id").id
    case.status = case.Status.PREDICTED
    case.attempts = 1
    case.predicted_label, case.covid_probability = "covid", 0.9
    case.save()
    assert not AuditEvent.objects.filter(id__gt=last).exists()


def test_editing_a_patient_records_a_case_edit_for_that_patient(clinic, staff):
    case = make_case(clinic, staff)
    patient = case.patient
    last = AuditEvent.objects.latest("id").id
    patient.birth_year = 1971
    patient.save()
    event = AuditEvent.objects.get(id__gt=last)
    assert (event.action, event.clinic, event.details["model"]) == ("case_edited", clinic, "patient")
    assert event.details["object"] == str(patient.public_id)
    assert event.details["changes"] == {"birth_year": {"before": 1970, "after": 1971}}


def test_activating_a_model_version_records_the_new_and_previous_versions(administrator):
    old, new = model_version("cnn-v1"), model_version("cnn-v2")
    activate_version(old)
    activate_version(new, user=administrator)
    activate_version(new, user=administrator)  # already active: nothing happens, nothing is recorded
    events = list(AuditEvent.objects.filter(action="model_activated").order_by("id"))
    assert [(e.actor, e.details["model_version"]["name"], (e.details["previous"] or {}).get("name"))
            for e in events] == [(None, "cnn-v1", None), (administrator, "cnn-v2", "cnn-v1")]
    assert events[1].details["model_version"]["sha256"] == new.sha256


def test_correcting_a_patient_in_the_admin_records_one_case_edit_by_the_administrator(client, clinic, staff):
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    patient = make_case(clinic, staff).patient
    last = AuditEvent.objects.latest("id").id
    client.force_login(root)
    response = client.post(reverse("admin:cases_patient_change", args=[patient.pk]), {"birth_year": 1980, "sex": "M"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(id__gt=last, action="case_edited")
    assert (event.actor, event.clinic, event.ip_address) == (root, clinic, "127.0.0.1")
    assert event.details["changes"] == {"birth_year": {"before": 1970, "after": 1980},
                                        "sex": {"before": "F", "after": "M"}}


def test_changing_a_users_email_in_the_admin_records_exactly_one_event(client, staff):
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    last = AuditEvent.objects.latest("id").id
    client.force_login(root)
    joined = timezone.localtime(staff.date_joined)
    response = client.post(reverse("admin:auth_user_change", args=[staff.pk]), {
        "username": "nurse", "email": "nurse@hillside.example", "is_active": "on",
        "groups": [group.pk for group in staff.groups.all()],
        "date_joined_0": joined.strftime("%Y-%m-%d"), "date_joined_1": joined.strftime("%H:%M:%S"),
    })
    assert response.status_code == 302, response.content
    events = list(AuditEvent.objects.filter(id__gt=last).exclude(action="login_succeeded"))
    assert [(e.action, e.actor, e.details["changes"]) for e in events] == [
        ("user_changed", root, {"email": {"before": "", "after": "nurse@hillside.example"}})]


@pytest.mark.parametrize("write", ["record", "create", "bulk_create"])
def test_an_unknown_audit_action_cannot_be_recorded(staff, write):
    from cases.audit.actors import Actor
    from cases.audit.services import record

    attempts = {
        "record": lambda: record("image_veiwed", actor=Actor.of_user(staff)),
        "create": lambda: AuditEvent.objects.create(action="image_veiwed", actor=staff),
        "bulk_create": lambda: AuditEvent.objects.bulk_create([AuditEvent(action="image_veiwed", actor=staff)]),
    }
    with pytest.raises(ValueError, match="image_veiwed"):
        attempts[write]()
    assert not AuditEvent.objects.filter(action="image_veiwed").exists()
