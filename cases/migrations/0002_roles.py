"""Create the three roles as groups with permissions, so access checks ask for permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Clinic staff": [
        ("cases", "add_case"), ("cases", "view_case"), ("cases", "add_patient"), ("cases", "view_patient"),
    ],
    "Radiologists": [
        ("cases", "view_case"), ("cases", "view_patient"), ("cases", "add_review"), ("cases", "view_review"),
        ("cases", "view_prediction"),
    ],
    "Administrators": [
        ("cases", "view_case"), ("cases", "view_patient"), ("cases", "view_review"), ("cases", "view_prediction"),
        ("cases", "view_all_clinics"), ("cases", "view_auditevent"), ("cases", "view_clinic"),
        ("cases", "add_clinic"), ("cases", "change_clinic"), ("auth", "view_user"), ("auth", "add_user"),
        ("auth", "change_user"), ("auth", "view_group"), ("classifier", "view_modelversion"),
        ("classifier", "change_modelversion"),
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in perms]
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("classifier", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
