from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from cxrsite.middleware import mark_refreshed_at_login

        from .audit import receivers
        from .classification import trials
        from .roles import create_roles_after_migrate
        from .validation import services as validation

        receivers.connect()
        user_logged_in.connect(mark_refreshed_at_login, dispatch_uid="cxrsite.session_refreshed_at_login")
        trials.connect()
        validation.connect()
        post_migrate.connect(create_roles_after_migrate, sender=self)
