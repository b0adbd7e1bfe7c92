"""Create the demo clinic and one user per role, once.

The demo clinic is live for the served model, so a newcomer sees suggestions; a second demo clinic is silent,
as every real clinic starts (local validation): its progress is on the administrators' validation page.

Passwords come from CXR_DEMO_PASSWORD (all users) or CXR_DEMO_<ROLE>_PASSWORD (one user),
otherwise they are generated and printed this one time. They are stored only as hashes, so a
second run cannot show them again: it changes nothing and says how to reset one.
"""

import os
import secrets

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext

from cases.access import ADMIN_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP
from cases.audit.actors import Actor
from cases.models import Clinic, ClinicAIState
from cases.validation.selectors import ai_state
from cases.validation.services import change_state
from classifier.registry import served_version

CLINIC = {"code": "demo", "name": "Demo Clinic"}
SILENT_CLINIC = {"code": "demo-silent", "name": "Demo Clinic (validating)"}
# (username, role group, environment variable, member of the demo clinic, admin site access)
DEMO_USERS = [
    ("demo_staff", STAFF_GROUP, "CXR_DEMO_STAFF_PASSWORD", True, False),
    ("demo_radiologist", RADIOLOGIST_GROUP, "CXR_DEMO_RADIOLOGIST_PASSWORD", True, False),
    ("demo_admin", ADMIN_GROUP, "CXR_DEMO_ADMIN_PASSWORD", False, True),
]


class Command(BaseCommand):
    help = "Create a demo clinic and one user per role (staff, radiologist, administrator), once."

    def handle(self, *args, **options):
        missing = [spec for spec in DEMO_USERS if not User.objects.filter(username=spec[0]).exists()]
        if not missing:
            self.stdout.write(gettext(
                "Demo data already exists; nothing changed. The passwords were shown when it was created "
                "(or came from CXR_DEMO_PASSWORD); reset one with `python manage.py changepassword demo_staff`."
            ))
            return
        passwords = {username: self._password(variable) for username, _, variable, _, _ in missing}
        with transaction.atomic():
            clinic, _ = Clinic.objects.get_or_create(code=CLINIC["code"], defaults={"name": CLINIC["name"]})
            silent, _ = Clinic.objects.get_or_create(code=SILENT_CLINIC["code"],
                                                     defaults={"name": SILENT_CLINIC["name"]})
            version = served_version()
            if ai_state(clinic, version) != ClinicAIState.State.LIVE:
                change_state(clinic=clinic, version=version, state=ClinicAIState.State.LIVE, actor=Actor.system(),
                             reason="demo: live without local evidence, so a newcomer sees suggestions")
            for username, group, _, member, is_staff in missing:
                user = User.objects.create_user(username=username, password=passwords[username], is_staff=is_staff)
                user.groups.add(Group.objects.get(name=group))
                if member:
                    clinic.members.add(user)
        self.stdout.write(gettext("Created the demo clinic “%(clinic)s” (AI suggestions live), “%(silent)s” (silent: "
                                  "suggestions being validated) and these logins (shown only now):")
                          % {"clinic": clinic.name, "silent": silent.name})
        for username, group, variable, _, _ in missing:
            shown = gettext("(from the environment)") if self._configured(variable) else passwords[username]
            self.stdout.write(f"  {group:<15} {username:<17} {shown}")

    def _password(self, variable: str) -> str:
        password = self._configured(variable)
        if not password:
            return _generated_password()
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(gettext("The demo password from the environment is too weak: %(reasons)s")
                               % {"reasons": " ".join(error.messages)})
        return password

    @staticmethod
    def _configured(variable: str) -> str:
        return os.environ.get(variable) or os.environ.get("CXR_DEMO_PASSWORD", "")


def _generated_password() -> str:
    """16 URL-safe characters (about 96 bits), never starting with a hyphen: pasted as an argument,
    a command line would read it as an option."""
    while (password := secrets.token_urlsafe(12)).startswith("-"):
        pass
    return password
