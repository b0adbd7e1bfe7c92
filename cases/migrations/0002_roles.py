"""The three roles. They are created, and kept in step with the code, by the post_migrate
receiver `cases.roles.create_roles_after_migrate`, which runs after every migrate (a fresh
database included) and every flush. This migration once created them itself; it stays, empty,
so the migration graph that existing databases recorded holds, and imports no app code.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("classifier", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = []
