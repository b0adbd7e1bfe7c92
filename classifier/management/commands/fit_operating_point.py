import json
from pathlib import Path

from django.core.management.base import BaseCommand

from classifier.artifacts import COMMITTED_MODEL


class Command(BaseCommand):
    help = ("Fit a model's operating point (COVID-19 weight) and uncertain band on validation films by the rules "
            "of SELECTION_RULES.md (issue 25), through the LiteRT serving path on one thread, and print them; "
            "--write puts them in the model's sidecar.")

    def add_arguments(self, parser):
        parser.add_argument("--model", default=str(COMMITTED_MODEL), help="LiteRT model file (default: committed)")
        parser.add_argument("--split", help="split.csv of its training (default: beside the model)")
        parser.add_argument("--write", action="store_true", help="write the fitted values into the sidecar")

    def handle(self, *args, **options):
        from classifier.training.operating_point import fit, write_sidecar

        model = Path(options["model"])
        fitted = fit(model, split_file=Path(options["split"] or model.parent / "split.csv"))
        if options["write"]:
            write_sidecar(model, fitted)
        self.stdout.write(json.dumps(fitted, indent=2))
