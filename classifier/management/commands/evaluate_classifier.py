import json

from django.conf import settings
from django.core.management.base import BaseCommand

from classifier.evaluation import evaluate
from classifier.gate import COMMITTED_GATE
from classifier.gate_evaluation import folder_refusal_rates
from classifier.registry import model_file, served_version


class Command(BaseCommand):
    help = ("Evaluate a model file on a dataset folder (covid/, normal/, viral_pneumonia/, optional manifest.csv); "
            "without --data, on the test split saved beside the model.")

    def add_arguments(self, parser):
        parser.add_argument("--data", help="dataset folder (default: the model's saved test split)")
        parser.add_argument("--model", help="LiteRT model file (default: the served model)")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        parser.add_argument("--plots", help="write confusion matrix, ROC and reliability PNGs here")
        parser.add_argument("--gate", help="input gate file (default: CXR_GATE_PATH, else the committed gate)")
        parser.add_argument("--not-cxr", help="also: a folder of images that are not frontal chest films, one "
                                              "subfolder per kind; reports the gate's refusal rate per kind")

    def handle(self, *args, **options):
        gate_path = options["gate"] or getattr(settings, "CXR_GATE_PATH", "") or COMMITTED_GATE
        metrics = evaluate(model_path=options["model"] or model_file(served_version()), data_dir=options["data"],
                           plots_dir=options["plots"], gate_path=gate_path)
        if options["not_cxr"]:
            metrics["not_cxr"] = folder_refusal_rates(gate_path, options["not_cxr"])
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2))
            return
        self.stdout.write(f"{metrics['model']['name']}  sha256 {metrics['model']['sha256'][:16]}...  n={metrics['n']}")
        self.stdout.write(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
                          f"macro AUC {metrics['macro_auc']:.4f}  ECE {metrics['ece']:.4f}  "
                          f"gate pass rate {metrics['gate_pass_rate']:.4f}")
        for label, figures in metrics["per_class"].items():
            self.stdout.write(f"  {label:16s} n={figures['n']:4d}  sensitivity {figures['sensitivity']:.3f}  "
                              f"specificity {figures['specificity']:.3f}  AUC {figures['auc']:.4f}")
        for name, figures in {**metrics.get("per_source", {}), **metrics.get("subgroups", {})}.items():
            self.stdout.write(f"  {name:20s} n={figures['n']:4d}  accuracy {figures['accuracy']:.3f}")
