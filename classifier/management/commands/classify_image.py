import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifier import gate
from classifier.imaging import ImageRejected
from classifier.inference import classify
from classifier.labels import DISPLAY_NAMES
from classifier.preprocessing import load_grayscale
from classifier.registry import model_file, served_gate, served_version


class Command(BaseCommand):
    help = ("Gate and classify PNG, JPEG or DICOM chest X-rays with the served model (the worker's code path). "
            "An image the input gate refuses, or a film in the model's uncertain band, gets no label, only the reason.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")
        parser.add_argument("--model", help="LiteRT model file (default: the served model)")
        parser.add_argument("--gate", help="input gate file (default: CXR_GATE_PATH, else the committed gate)")
        parser.add_argument("--json", action="store_true", help="one JSON object per file")

    def handle(self, *args, **options):
        model_path = options["model"] or model_file(served_version())
        gate_path = options["gate"] or served_gate()
        for name in options["files"]:
            try:
                pixels = load_grayscale(Path(name))
            except (OSError, ImageRejected) as error:
                raise CommandError(f"{name}: {error}") from None
            started = time.perf_counter()
            verdict = gate.check(pixels, gate_path=gate_path)
            result = classify(pixels, model_path=model_path)
            elapsed_ms = (time.perf_counter() - started) * 1000
            # The worker's rule: a refused image, or a film in the model's uncertain band, gets no label.
            label = result.label if verdict.passed and not result.uncertain else None
            if options["json"]:
                self.stdout.write(json.dumps({
                    "file": name,
                    "gate": {"passed": verdict.passed, "reason": verdict.reason, "scores": verdict.scores,
                             "version": verdict.version},
                    "label": label, "uncertain": result.uncertain, "covid_word": result.covid_word,
                    "probabilities": result.probabilities, "model": result.model_name,
                    "model_sha256": result.model_sha256, "architecture": result.architecture,
                    "ms": round(elapsed_ms, 3), "inference_ms": round(result.inference_ms, 3),
                }))
                continue
            if label is None:
                reason = verdict.reason_text if not verdict.passed else "the model is uncertain (its uncertain band)"
                self.stdout.write(f"{name}: no suggestion, needs a human read: {reason}")
                continue
            probabilities = "  ".join(f"{DISPLAY_NAMES[k]} {v:.3f}" for k, v in result.probabilities.items())
            self.stdout.write(f"{name}: {DISPLAY_NAMES[label]}  ({probabilities})  "
                              f"model {result.model_name}  {elapsed_ms:.1f} ms")
