"""Nothing can change or delete an audit event: not the admin, not the ORM, not raw SQL."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from cases.audit.actors import Actor
from cases.audit.services import record
from cases.audit.guard import AppendOnlyError, purge_allowed
from cases.models import AuditEvent
from tests.conftest import PASSWORD


@pytest.fixture
def event(staff):
    return record("image_viewed", actor=Actor.of_user(staff), details={"kind": "display"})


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


def unchanged(event: AuditEvent) -> bool:
    stored = AuditEvent.objects.get(pk=event.pk)
    return (stored.action, stored.details, stored.actor_id) == ("image_viewed", {"kind": "display"}, event.actor_id)


def test_saving_an_existing_event_is_refused(event):
    event.action = "nothing_happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert unchanged(event)


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert unchanged(event)


@pytest.mark.parametrize("change", [
    lambda events: events.update(action="nothing_happened"),
    lambda events: events.delete(),
    lambda events: events.bulk_update(list(events), ["action"]),
    lambda events: AuditEvent._base_manager.all().delete(),
])
def test_queryset_updates_and_deletes_are_refused(event, change):
    with pytest.raises(AppendOnlyError):
        change(AuditEvent.objects.filter(pk=event.pk))
    assert unchanged(event)


def raw_sql_statements() -> list[str]:
    statements = ["UPDATE cases_auditevent SET action = 'nothing_happened'", "DELETE FROM cases_auditevent"]
    if connection.vendor == "postgresql":
        statements.append("TRUNCATE cases_auditevent CASCADE")
    return statements


def settle_deferred_constraints() -> None:
    """PostgreSQL refuses TRUNCATE while the test's own inserts have FK checks pending."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_database_refuses_raw_sql_updates_and_deletes(event):
    settle_deferred_constraints()
    for statement in raw_sql_statements():
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        assert unchanged(event), statement


def test_the_purge_allowance_still_refuses_updates(event):
    with purge_allowed():
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE cases_auditevent SET action = 'nothing_happened'")
    assert unchanged(event)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM cases_auditevent")  # the allowance ended with the block


def test_flushing_the_whole_database_empties_the_trail_too(event):
    # What pytest-django does after every transactional test; the test's transaction undoes it.
    settle_deferred_constraints()
    call_command("flush", interactive=False, verbosity=0)
    # The event is gone; only flush's own re-creation of the role groups is on record afterwards.
    assert set(AuditEvent.objects.values_list("action", flat=True)) <= {"group_changed"}


def test_deleting_a_user_with_events_is_refused_and_keeps_the_events(event, staff):
    with pytest.raises(ProtectedError):
        with transaction.atomic():
            staff.delete()
    assert unchanged(event)


def test_no_one_holds_a_change_or_delete_permission_for_events(superuser, administrator):
    from django.contrib.auth.models import Permission

    codenames = set(Permission.objects.filter(content_type__model="auditevent").values_list("codename", flat=True))
    assert codenames == {"view_auditevent"}
    assert administrator.has_perm("cases.view_auditevent")


def test_the_admin_shows_events_read_only_even_to_a_superuser(client, superuser, event):
    client.force_login(superuser)
    change_url = reverse("admin:cases_auditevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="action"' not in page.content  # shown as text, not as an input
    assert b'name="_save"' not in page.content

    responses = [
        client.post(change_url, {"action": "nothing_happened", "details": "{}", "actor_label": "x"}),
        client.get(reverse("admin:cases_auditevent_delete", args=[event.pk])),
        client.post(reverse("admin:cases_auditevent_delete", args=[event.pk]), {"post": "yes"}),
        client.post(reverse("admin:cases_auditevent_add"), {"action": "forged", "details": "{}"}),
    ]
    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    assert unchanged(event)
    assert not AuditEvent.objects.filter(action="forged").exists()


def test_the_admin_list_offers_no_bulk_delete_action(client, superuser, event):
    client.force_login(superuser)
    changelist = reverse("admin:cases_auditevent_changelist")
    assert b"delete_selected" not in client.get(changelist).content
    client.post(changelist, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert unchanged(event)


def test_an_administrator_can_read_the_trail_in_the_admin(client, administrator, event):
    client.force_login(administrator)
    page = client.get(reverse("admin:cases_auditevent_changelist"))
    assert page.status_code == 200
    assert b"image_viewed" in page.content
