from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import audit_admin, signals  # noqa: F401  (registers the admin and the audit receivers)
        from .roles import create_roles_after_migrate

        post_migrate.connect(create_roles_after_migrate, sender=self)
