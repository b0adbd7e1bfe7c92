"""`flush` that may empty the append-only audit table too.

Emptying every table at once (pytest-django does it after each transactional test) is not
tampering with the trail, so this one command switches the audit triggers' purge allowance on.
"""

from django.core.management.commands import flush

from cases.audit.guard import purge_allowed


class Command(flush.Command):
    def handle(self, **options):
        with purge_allowed(options["database"]):
            return super().handle(**options)
