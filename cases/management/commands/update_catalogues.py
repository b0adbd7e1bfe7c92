"""Bring every catalogue in locale/ up to date with the strings marked in the code: the one command a
developer runs after marking a string (`make catalogues-update`), and the one tests/test_translations.py
runs on a copy of the checkout to find a marked string some catalogue lacks."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# What is not ours to translate: the virtual environment, vendored and collected static files, the tests'
# and benchmarks' own texts, data folders.
IGNORED = [".venv", ".venv/*", "staticfiles/*", "static/vendor/*", "var/*", "tests/*", "bench/*", "bin/*",
           "test-artifacts/*", "private/*", "runs/*", "node_modules/*"]


class Command(BaseCommand):
    help = "Update locale/<language>/LC_MESSAGES/django.po and djangojs.po for every shipped language."

    def handle(self, *args, **options):
        languages = [code for code in settings.ALL_LANGUAGES if code != settings.LANGUAGE_CODE]
        for domain in ("django", "djangojs"):
            call_command("makemessages", locale=languages, domain=domain, ignore_patterns=IGNORED,
                         no_obsolete=True, no_location=True, verbosity=0)
        self.stdout.write(f"updated {len(languages)} languages: {', '.join(languages)}")
