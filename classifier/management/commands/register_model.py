from django.core.management.base import BaseCommand, CommandError

from classifier.registry import register_model


class Command(BaseCommand):
    help = "Register a LiteRT model file as a ModelVersion (its .json sidecar and metrics.json are read when present)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--activate", action="store_true", help="also make it the active model")

    def handle(self, *args, **options):
        try:
            version = register_model(options["path"], activate=options["activate"])
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        state = "active" if version.active else "not active"
        self.stdout.write(self.style.SUCCESS(f"Registered {version.name} ({version.architecture}, "
                                             f"sha256 {version.sha256[:12]}), {state}"))
