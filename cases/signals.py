"""Audit events for changes made outside the case workflow services.

Logins, users, roles, clinics and model activation can change through the admin, the shell or
a management command; signals catch every path. Each receiver runs inside the save that
triggered it, so the event commits or rolls back with the change. The acting user and IP
come from the request django-simple-history's middleware keeps for the current thread.

Case workflow transitions (status, attempts, failures) are compare-and-set updates recorded by
their own services, so a Case save that touches only those fields is not a "case_edited".
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from simple_history.models import HistoricalRecords

from classifier.signals import model_activated

from .audit import record
from .audit_guard import register_sqlite_function
from .models import Case, Clinic, Patient

HIDDEN = "(hidden)"
CASE_WORKFLOW_FIELDS = {"id", "public_id", "created", "status", "status_changed", "attempts", "failure_reason",
                        "predicted_label", "covid_probability"}

connection_created.connect(register_sqlite_function, dispatch_uid="cases.audit_guard.sqlite_function")


@dataclass(frozen=True)
class Watch:
    """Which fields of a model are audited, under which action, and how the object is named."""

    action: str
    fields: tuple[str, ...]
    name_field: str
    records_creation: bool = True
    secret_fields: tuple[str, ...] = ()


WATCHED = {
    User: Watch("user_changed", ("username", "first_name", "last_name", "email", "is_active", "is_staff",
                                 "is_superuser", "password"), "username", secret_fields=("password",)),
    Group: Watch("group_changed", ("name",), "name"),
    Clinic: Watch("clinic_changed", ("name", "code"), "code"),
    # Creating patients and cases is the intake service's "case_submitted".
    Patient: Watch("case_edited", ("clinic_id", "mrn", "birth_year", "sex"), "public_id", records_creation=False),
    Case: Watch("case_edited", tuple(f.attname for f in Case._meta.concrete_fields
                                     if f.name not in CASE_WORKFLOW_FIELDS), "public_id", records_creation=False),
}


@dataclass(frozen=True)
class Membership:
    """A many-to-many relation audited as a change of its `subject` (a user's groups, ...)."""

    subject: type
    accessor: str  # on the subject, and its query name
    key: str  # the name in the event details
    label_fields: tuple[str, ...]


MEMBERSHIPS = {
    User.groups.through: Membership(User, "groups", "groups", ("name",)),
    User.user_permissions.through: Membership(User, "user_permissions", "permissions",
                                              ("content_type__app_label", "codename")),
    Clinic.members.through: Membership(User, "clinics", "clinics", ("code",)),
    Group.permissions.through: Membership(Group, "permissions", "permissions", ("content_type__app_label", "codename")),
}


def current_request():
    return getattr(HistoricalRecords.context, "request", None)


def plain(value):
    """A JSON-safe copy of a field value (dates, UUIDs and decimals become text)."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def describe(instance, watch: Watch, operation: str, changes: dict) -> dict:
    return {
        "model": instance._meta.model_name,
        "object": plain(getattr(instance, watch.name_field)),
        "operation": operation,
        "changes": changes,
    }


def field_changes(watch: Watch, before: dict, after: dict) -> dict:
    changes = {}
    for attname in watch.fields:
        old, new = before.get(attname), after.get(attname)
        if old != new:
            key = attname.removesuffix("_id")
            hidden = attname in watch.secret_fields
            changes[key] = {"before": HIDDEN if hidden and old else plain(old),
                            "after": HIDDEN if hidden and new else plain(new)}
    return changes


def record_for(instance, watch: Watch, operation: str, changes: dict, *, exists: bool = True) -> None:
    case = instance if isinstance(instance, Case) else None
    clinic = None
    if exists and isinstance(instance, Clinic):
        clinic = instance
    elif isinstance(instance, Patient):
        clinic = instance.clinic
    record(action=watch.action, request=current_request(), case=case, clinic=clinic,
           details=describe(instance, watch, operation, changes))


@receiver(pre_save, dispatch_uid="cases.audit.pre_save")
def remember_saved_fields(sender, instance, raw=False, update_fields=None, **kwargs):
    watch = WATCHED.get(sender)
    if watch is None or raw or instance.pk is None:
        return
    watched_names = set(watch.fields) | {f.removesuffix("_id") for f in watch.fields}
    if update_fields is not None and not watched_names & set(update_fields):
        return  # e.g. the last_login update on every login
    instance._audit_before = sender._base_manager.filter(pk=instance.pk).values(*watch.fields).first()


@receiver(post_save, dispatch_uid="cases.audit.post_save")
def record_saved_fields(sender, instance, created=False, raw=False, **kwargs):
    watch = WATCHED.get(sender)
    if watch is None or raw:
        return
    before = instance.__dict__.pop("_audit_before", None)
    after = {attname: getattr(instance, attname) for attname in watch.fields}
    if created:
        if watch.records_creation:
            record_for(instance, watch, "created", field_changes(watch, {}, after))
        return
    changes = field_changes(watch, before, after) if before is not None else {}
    if changes:
        record_for(instance, watch, "updated", changes)


@receiver(post_delete, dispatch_uid="cases.audit.post_delete")
def record_deletion(sender, instance, **kwargs):
    watch = WATCHED.get(sender)
    if watch is not None and watch.records_creation:
        before = {attname: getattr(instance, attname) for attname in watch.fields}
        record_for(instance, watch, "deleted", field_changes(watch, before, {}), exists=False)


def membership_labels(subject, membership: Membership) -> list[str]:
    rows = getattr(subject, membership.accessor).values_list(*membership.label_fields)
    return sorted(".".join(row) for row in rows)


@receiver(m2m_changed, dispatch_uid="cases.audit.m2m_changed")
def record_membership_change(sender, instance, action, pk_set=None, **kwargs):
    """Snapshot each affected subject before the change, and compare after it.

    `pk_set` names the other side's rows, and is empty for a clear; the subjects affected
    are the instance itself or, when changed from the other side, the rows it names.
    """
    membership = MEMBERSHIPS.get(sender)
    if membership is None:
        return
    stash = instance.__dict__.setdefault("_audit_memberships", {})
    if action.startswith("pre_"):
        if isinstance(instance, membership.subject):
            subjects = [instance]
        elif pk_set is not None:
            subjects = membership.subject._default_manager.filter(pk__in=pk_set)
        else:
            subjects = membership.subject._default_manager.filter(**{membership.accessor: instance})
        stash[sender] = [(subject, membership_labels(subject, membership)) for subject in subjects]
        return
    watch = WATCHED[membership.subject]
    for subject, before in stash.pop(sender, []):
        after = membership_labels(subject, membership)
        if after != before:
            record(action=watch.action, request=current_request(),
                   clinic=instance if isinstance(instance, Clinic) else None,
                   details=describe(subject, watch, "updated",
                                    {membership.key: {"before": before, "after": after}}))


@receiver(user_logged_in, dispatch_uid="cases.audit.login_succeeded")
def record_login(sender, request, user, **kwargs):
    record(action="login_succeeded", request=request, actor=user)


@receiver(user_login_failed, dispatch_uid="cases.audit.login_failed")
def record_failed_login(sender, credentials, request=None, **kwargs):
    # Axes handles this signal first and flags the request when this attempt locks the account.
    username = str(credentials.get("username", ""))[:150]
    record(action="login_failed", request=request, actor_label=username,
           details={"username": username, "locked_out": bool(getattr(request, "axes_locked_out", False))})


def version_summary(version) -> dict | None:
    if version is None:
        return None
    return {"id": version.pk, "name": version.name, "architecture": version.architecture, "sha256": version.sha256}


@receiver(model_activated, dispatch_uid="cases.audit.model_activated")
def record_model_activation(sender, version, previous=None, user=None, request=None, **kwargs):
    record(action="model_activated", request=request or current_request(), actor=user,
           details={"model_version": version_summary(version), "previous": version_summary(previous)})
