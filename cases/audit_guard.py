"""Keeping the audit trail append-only, in the ORM and in the database itself.

Three layers, so a bug in one is caught by the next:
1. `AppendOnlyQuerySet` and `AuditEvent.save/delete` refuse updates and deletes in Python.
2. Triggers (PostgreSQL and SQLite) refuse UPDATE, DELETE and TRUNCATE of the table for
   any client, raw SQL included.
3. The admin offers no change or delete permission, even to superusers.

One deliberate exception: `purge_allowed()` lets DELETE/TRUNCATE (never UPDATE) through on
this connection. Only the `flush` command uses it, because emptying a whole database (test
teardown) is not tampering with a trail. It needs no privilege beyond the application's own,
so it guards against mistakes and application bugs; protection against the database owner
is a matter of database roles and off-site log shipping, not of this module.
"""

from contextlib import contextmanager

from django.db import connections, models

TABLE = "cases_auditevent"
PURGE_SETTING = "cxr.audit_purge"  # a custom PostgreSQL session variable
SQLITE_PURGE_FUNCTION = "cxr_audit_purge_allowed"


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit events cannot be changed.")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def _raw_delete(self, using):
        raise AppendOnlyError("Audit events cannot be deleted.")


POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' AND current_setting('{PURGE_SETTING}', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$ LANGUAGE plpgsql
    """,
    f"""CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""",
    f"""CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()""",
]
POSTGRESQL_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_append_only()",
]
# SQLite has no TRUNCATE (DELETE without WHERE is the same statement) and no session
# variables: the purge switch is a function each Django connection registers, so any other
# client (the sqlite3 shell) fails with "no such function" and changes nothing.
SQLITE_INSTALL = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        WHEN NOT {SQLITE_PURGE_FUNCTION}()
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]

STATEMENTS = {
    "postgresql": (POSTGRESQL_INSTALL, POSTGRESQL_UNINSTALL),
    "sqlite": (SQLITE_INSTALL, SQLITE_UNINSTALL),
}


def install_triggers(apps, schema_editor) -> None:
    for sql in STATEMENTS.get(schema_editor.connection.vendor, ([], []))[0]:
        schema_editor.execute(sql, params=None)  # no placeholders: the PL/pgSQL uses "%"


def remove_triggers(apps, schema_editor) -> None:
    for sql in STATEMENTS.get(schema_editor.connection.vendor, ([], []))[1]:
        schema_editor.execute(sql, params=None)  # no placeholders: the PL/pgSQL uses "%"


def remove_write_permissions(apps, schema_editor) -> None:
    """Drop add/change/delete permissions created before `default_permissions` was narrowed."""
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="cases", content_type__model="auditevent"
    ).exclude(codename="view_auditevent").delete()


def register_sqlite_function(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: give each SQLite connection the purge switch."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_PURGE_FUNCTION, 0, lambda: int(getattr(connection, "audit_purge_allowed", False))
        )


@contextmanager
def purge_allowed(using: str = "default"):
    """Let DELETE/TRUNCATE of the audit table through on this connection (see module doc)."""
    connection = connections[using]
    connection.ensure_connection()
    connection.audit_purge_allowed = True
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', false)", [PURGE_SETTING])
    try:
        yield
    finally:
        connection.audit_purge_allowed = False
        if connection.vendor == "postgresql" and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'off', false)", [PURGE_SETTING])
