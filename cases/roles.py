"""The three roles, as groups with permissions: access checks ask for permissions, not names.

Created by the 0002 data migration and kept in step after every migrate and flush (post_migrate),
so a role whose permissions change in code is updated everywhere, and a flushed test
database gets its roles back.
"""

from django.contrib.auth.management import create_permissions

STAFF_GROUP = "Clinic staff"
RADIOLOGIST_GROUP = "Radiologists"
ADMIN_GROUP = "Administrators"
# A clinic's medical lead: its audit trail, oversight and local validation, nothing of other clinics (an
# administrator adds the user to this group and to the clinic in the admin).
CLINIC_AUDITOR_GROUP = "Clinic auditors"

ROLES = {
    CLINIC_AUDITOR_GROUP: [("cases", "view_auditevent")],
    STAFF_GROUP: [
        ("cases", "add_case"), ("cases", "view_case"), ("cases", "add_patient"), ("cases", "view_patient"),
    ],
    RADIOLOGIST_GROUP: [
        ("cases", "view_case"), ("cases", "view_patient"), ("cases", "add_review"), ("cases", "view_review"),
        ("cases", "view_prediction"),
    ],
    ADMIN_GROUP: [
        ("cases", "view_case"), ("cases", "view_patient"), ("cases", "view_review"), ("cases", "view_prediction"),
        ("cases", "view_all_clinics"), ("cases", "view_auditevent"), ("cases", "view_clinic"),
        ("cases", "view_clinicaistate"),
        ("cases", "add_clinic"), ("cases", "change_clinic"), ("auth", "view_user"), ("auth", "add_user"),
        ("auth", "change_user"), ("auth", "view_group"), ("classifier", "view_modelversion"),
        ("classifier", "change_modelversion"), ("cases", "view_dicomnode"), ("cases", "add_dicomnode"),
        ("cases", "change_dicomnode"), ("cases", "view_dicomresult"), ("cases", "retry_case"),
        ("cases", "view_integration"), ("cases", "add_integration"), ("cases", "change_integration"),
        ("cases", "view_apitoken"), ("cases", "change_apitoken"), ("cases", "view_webhookevent"),
        ("cases", "change_webhookevent"), ("cases", "view_webhookattempt"), ("cases", "view_notification"),
    ],
}


def create_roles(apps) -> None:
    """Create or update the role groups. `apps` is a migration's app registry or the real one."""
    for app_config in apps.get_app_configs():
        # Permissions are normally created after migrate; make sure they exist now.
        models_module, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in perms]
        )


def create_roles_after_migrate(sender, apps=None, **kwargs) -> None:
    # `flush` sends post_migrate without a migration state: the installed models serve then.
    from django.apps import apps as installed_apps

    create_roles(apps or installed_apps)
