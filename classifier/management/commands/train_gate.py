import json

from django.core.management.base import BaseCommand

from classifier.training.data import DEFAULT_DATA_DIR
from classifier.training.gate.data import CLASSIFIER_SPLIT, CXR_EXTRA_DIR, NOT_CXR_DIR
from classifier.training.gate.train import train_gate


class Command(BaseCommand):
    help = ("Train the input gate (frontal chest film or not), fit its thresholds on validation data and export "
            "it to LiteRT with its sidecar JSON and a metrics JSON.")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="output folder (gate.tflite, gate.tflite.json, ...)")
        parser.add_argument("--cxr", default=str(DEFAULT_DATA_DIR), help="chest dataset folder")
        parser.add_argument("--split", default=str(CLASSIFIER_SPLIT), help="the chest split.csv (train and val rows)")
        parser.add_argument("--extra", default=str(CXR_EXTRA_DIR), help="cxr-extra folder ('' for none)")
        parser.add_argument("--not-cxr", default=str(NOT_CXR_DIR), help="not-cxr folder (split by source)")
        parser.add_argument("--epochs", type=int, default=40, help="maximum epochs (early stopping may end sooner)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--input-size", type=int, default=96)
        parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads (the machine is shared)")

    def handle(self, *args, **options):
        summary = train_gate(out_dir=options["out"], cxr_dir=options["cxr"], split_file=options["split"],
                             extra_dir=options["extra"] or None, not_cxr_dir=options["not_cxr"],
                             epochs=options["epochs"], seed=options["seed"], input_size=options["input_size"],
                             threads=options["threads"], verbose=1 if self.stdout.isatty() else 2)
        self.stdout.write(json.dumps({key: summary[key] for key in ("version", "epochs_run", "train_minutes",
                                                                    "thresholds")}, indent=2))
        self.stdout.write(self.style.SUCCESS(f"Saved {summary['litert_file']} in {options['out']}"))
