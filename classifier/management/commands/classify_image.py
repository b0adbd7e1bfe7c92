import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier.imaging import ImageRejected
from classifier.inference import classify
from classifier.labels import DISPLAY_NAMES
from classifier.preprocessing import load_grayscale
from classifier.registry import model_file, served_version


class Command(BaseCommand):
    help = "Classify PNG, JPEG or DICOM chest X-rays with the active model (the worker's code path)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")
        parser.add_argument("--model", help="LiteRT model file (default: the served model)")
        parser.add_argument("--json", action="store_true", help="one JSON object per file")

    def handle(self, *args, **options):
        model_path = options["model"] or model_file(served_version())
        for name in options["files"]:
            try:
                result = classify(load_grayscale(Path(name)), model_path=model_path)
            except (OSError, ImageRejected) as error:
                raise CommandError(f"{name}: {error}") from None
            if options["json"]:
                self.stdout.write(json.dumps({
                    "file": name, "label": result.label, "probabilities": result.probabilities,
                    "model": result.model_name, "model_sha256": result.model_sha256,
                    "architecture": result.architecture, "inference_ms": round(result.inference_ms, 3),
                }))
                continue
            probabilities = "  ".join(f"{DISPLAY_NAMES[k]} {v:.3f}" for k, v in result.probabilities.items())
            self.stdout.write(f"{name}: {DISPLAY_NAMES[result.label]}  ({probabilities})  "
                              f"model {result.model_name}  {result.inference_ms:.1f} ms")
