"""Audit events for what no service covers: users, groups, memberships, logins, edits.

Users, roles, clinics, and a case's or patient's details can change through the admin, the
shell or a management command, and model activation happens in the classifier library;
receivers catch every path. Each is connected to its own senders (`connect()`, called once
from CasesConfig.ready) and runs inside the save that triggered it, so the event commits or
rolls back with the change. The actor is the current request's (`actors.current_actor`).

Case workflow transitions (status, attempts, failures) are compare-and-set updates recorded by
their own services, so a Case save that touches only those fields is not a "case_edited".
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from classifier.models import ModelVersion
from classifier.signals import model_activated

from ..models import AuditEvent, Case, Clinic, Integration, NotificationChoice, Patient
from .actors import Actor, current_actor
from .guard import register_sqlite_function
from .services import record

HIDDEN = "(hidden)"
CASE_WORKFLOW_FIELDS = {"id", "public_id", "created", "status", "status_changed", "attempts", "requeues",
                        "failure_reason", "failure_cause",
                        "predicted_label", "covid_probability", "gate_reason"}
Action = AuditEvent.Action


@dataclass(frozen=True)
class Watch:
    """Which fields of a model are audited, under which action, and how the object is named."""

    action: AuditEvent.Action
    fields: tuple[str, ...]
    name_field: str
    records_creation: bool = True
    secret_fields: tuple[str, ...] = ()


WATCHED = {
    User: Watch(Action.USER_CHANGED, ("username", "first_name", "last_name", "email", "is_active", "is_staff",
                                 "is_superuser", "password"), "username", secret_fields=("password",)),
    Group: Watch(Action.GROUP_CHANGED, ("name",), "name"),
    Clinic: Watch(Action.CLINIC_CHANGED, ("name", "code"), "code"),
    # Creating patients and cases is the intake service's "case_submitted".
    Patient: Watch(Action.CASE_EDITED, ("clinic_id", "mrn", "birth_year", "sex"), "public_id", records_creation=False),
    # Activation has its own event (model_activated); putting a version on trial is this one.
    ModelVersion: Watch(Action.TRIAL_CHANGED, ("on_trial", "trial_sample_percent", "trial_clinics"), "name",
                        records_creation=False),
    # Made and changed by administrators in the admin; its tokens and secret have their own events.
    Integration: Watch(Action.INTEGRATION_CHANGED, ("name", "active", "may_submit", "may_read", "receives_webhooks",
                                                    "webhook_url", "webhook_events"), "name"),
    NotificationChoice: Watch(Action.USER_CHANGED, ("by_email", "by_sms", "phone", "on_duty"), "user"),
    Case: Watch(Action.CASE_EDITED, tuple(f.attname for f in Case._meta.concrete_fields
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
    Integration.clinics.through: Membership(Integration, "clinics", "clinics", ("code",)),
}


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
    record(watch.action, actor=current_actor(), case=case, clinic=clinic,
           details=describe(instance, watch, operation, changes))


def remember_saved_fields(sender, instance, raw=False, update_fields=None, **kwargs):
    watch = WATCHED[sender]
    if raw or instance.pk is None:
        return
    watched_names = set(watch.fields) | {f.removesuffix("_id") for f in watch.fields}
    if update_fields is not None and not watched_names & set(update_fields):
        return  # e.g. the last_login update on every login
    instance._audit_before = sender._base_manager.filter(pk=instance.pk).values(*watch.fields).first()


def record_saved_fields(sender, instance, created=False, raw=False, **kwargs):
    watch = WATCHED[sender]
    if raw:
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


def record_deletion(sender, instance, **kwargs):
    watch = WATCHED[sender]
    if watch.records_creation:
        before = {attname: getattr(instance, attname) for attname in watch.fields}
        record_for(instance, watch, "deleted", field_changes(watch, before, {}), exists=False)


def membership_labels(subject, membership: Membership) -> list[str]:
    rows = getattr(subject, membership.accessor).values_list(*membership.label_fields)
    return sorted(".".join(row) for row in rows)


def record_membership_change(sender, instance, action, pk_set=None, **kwargs):
    """Snapshot each affected subject before the change, and compare after it.

    `pk_set` names the other side's rows, and is empty for a clear; the subjects affected
    are the instance itself or, when changed from the other side, the rows it names.
    """
    membership = MEMBERSHIPS[sender]
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
            record(watch.action, actor=current_actor(),
                   clinic=instance if isinstance(instance, Clinic) else None,
                   details=describe(subject, watch, "updated",
                                    {membership.key: {"before": before, "after": after}}))


def record_login(sender, request, user, **kwargs):
    address = Actor.of_request(request).address if request is not None else None
    record(Action.LOGIN_SUCCEEDED, actor=Actor.of_user(user, address=address))


def record_failed_login(sender, credentials, request=None, **kwargs):
    # Axes handles this signal first and flags the request when this attempt locks the account.
    username = str(credentials.get("username", ""))[:150]
    client = Actor.of_request(request) if request is not None else current_actor()
    record(Action.LOGIN_FAILED, actor=client.named(username),
           details={"username": username, "locked_out": bool(getattr(request, "axes_locked_out", False))})


def version_summary(version) -> dict | None:
    if version is None:
        return None
    return {"id": version.pk, "name": version.name, "architecture": version.architecture, "sha256": version.sha256}


def record_model_activation(sender, version, previous=None, user=None, evidence=None, **kwargs):
    actor = current_actor()
    if user is not None:
        actor = Actor.of_user(user, address=actor.address)
    details = {"model_version": version_summary(version), "previous": version_summary(previous)}
    if evidence:
        details["evidence"] = evidence
    record(Action.MODEL_ACTIVATED, actor=actor, details=details)


def connect() -> None:
    """Connect every receiver to its own senders (dispatch_uid: connecting twice is harmless)."""
    connection_created.connect(register_sqlite_function, dispatch_uid="cases.audit.sqlite_function")
    for model in WATCHED:
        uid = f"cases.audit.{model._meta.label_lower}"
        pre_save.connect(remember_saved_fields, sender=model, dispatch_uid=f"{uid}.pre_save")
        post_save.connect(record_saved_fields, sender=model, dispatch_uid=f"{uid}.post_save")
        post_delete.connect(record_deletion, sender=model, dispatch_uid=f"{uid}.post_delete")
    for through in MEMBERSHIPS:
        m2m_changed.connect(record_membership_change, sender=through,
                            dispatch_uid=f"cases.audit.{through._meta.label_lower}.m2m_changed")
    user_logged_in.connect(record_login, dispatch_uid="cases.audit.login_succeeded")
    user_login_failed.connect(record_failed_login, dispatch_uid="cases.audit.login_failed")
    model_activated.connect(record_model_activation, sender=ModelVersion, dispatch_uid="cases.audit.model_activated")
