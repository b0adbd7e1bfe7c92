import json
from pathlib import Path

from django.core.management.base import BaseCommand

from classifier.artifacts import COMMITTED_GATE


class Command(BaseCommand):
    help = ("Fit the input gate's upside-down check (classifier/GATE_CARD.md, Orientation) on the gate's chest "
            "training films, its threshold on the chest validation films, and measure the served gate on "
            "validation films upright, upside down and mirrored; --write puts it in the gate's sidecar.")

    def add_arguments(self, parser):
        parser.add_argument("--gate", default=str(COMMITTED_GATE), help="gate file (default: the committed gate)")
        parser.add_argument("--write", action="store_true", help="write the check into the gate's sidecar")

    def handle(self, *args, **options):
        from classifier.training.gate.data import chest_split
        from classifier.training.gate.orientation import fit_orientation, measure, write_orientation

        gate = Path(options["gate"])
        fitted = fit_orientation(gate)
        report = {"threshold": fitted["threshold"]}
        if options["write"]:
            metadata = write_orientation(gate, fitted)
            metadata["orientation"]["validation"] = measure(gate, chest_split()["val"], not_cxr_split="val")
            Path(f"{gate}.json").write_text(json.dumps(metadata, indent=2) + "\n")
            report["validation"] = metadata["orientation"]["validation"]
        self.stdout.write(json.dumps(report, indent=2))
