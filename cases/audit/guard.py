"""Keeping the audit trail append-only, in the ORM and in the database itself.

Three layers, so a bug in one is caught by the next:
1. `AppendOnlyQuerySet` and `AuditEvent.save/delete` refuse updates and deletes in Python.
2. Triggers (PostgreSQL and SQLite) refuse UPDATE, DELETE and TRUNCATE of the table for
   any client, raw SQL included.
3. The admin offers no change or delete permission, even to superusers.

The triggers themselves are installed by migration 0003 (its SQL is kept there, with the
migration). One deliberate exception: `purge_allowed()` lets DELETE/TRUNCATE (never UPDATE) through on
this connection. Only the `flush` command uses it, because emptying a whole database (test
teardown) is not tampering with a trail. It needs no privilege beyond the application's own,
so it guards against mistakes and application bugs; protection against the database owner
is a matter of database roles and off-site log shipping, not of this module.
"""

from contextlib import contextmanager

from django.db import connections, models

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

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        unknown = {obj.action for obj in objs} - set(self.model.Action.values)
        if unknown:  # bulk_create skips save(), where single events are checked
            raise ValueError(f"unknown audit action {sorted(unknown)!r}")
        return super().bulk_create(objs, *args, **kwargs)


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
