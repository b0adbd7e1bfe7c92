from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .audit import receivers
        from .classification import trials
        from .roles import create_roles_after_migrate

        receivers.connect()
        trials.connect()
        post_migrate.connect(create_roles_after_migrate, sender=self)
