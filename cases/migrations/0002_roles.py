"""Create the three roles as groups with permissions (cases.roles)."""

from django.db import migrations

from cases.roles import ROLES, create_roles


def create_role_groups(apps, schema_editor):
    create_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("classifier", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_role_groups, remove_roles)]
