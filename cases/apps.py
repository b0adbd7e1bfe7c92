from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import audit_admin, signals  # noqa: F401  (registers the admin and the audit receivers)
