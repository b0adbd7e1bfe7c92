from django.core.management.base import BaseCommand, CommandError

from classifier.artifacts import ModelFileError
from classifier.registry import register_model


class Command(BaseCommand):
    help = ("Register a LiteRT model file as a ModelVersion, after checking that it loads, matches its .json "
            "sidecar and classifies test films sanely (metrics.json beside it is read when present).")

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--activate", action="store_true",
                            help="also make it the active model at once, without a silent trial (a first install)")

    def handle(self, *args, **options):
        try:
            version = register_model(options["path"], activate=options["activate"])
        except ModelFileError as error:
            raise CommandError(f"Refused {options['path']}: {error}.") from None
        state = "active" if version.active else "not active"
        self.stdout.write(self.style.SUCCESS(f"Registered {version.name} ({version.architecture}, "
                                             f"sha256 {version.sha256[:12]}), {state}"))
        if not version.metrics:
            self.stdout.write(self.style.WARNING(
                "No metrics.json beside the file: the versions list shows no test figures for it. "
                "Run evaluate_classifier --model FILE --save before registering."))
