import json
from pathlib import Path

from django.core.management.base import BaseCommand

from classifier.registry import model_file, served_gate, served_version
from classifier.training.evaluation import evaluate
from classifier.training.gate.evaluation import folder_refusal_rates


def _figure(value: float | None) -> str:
    """A figure, or "-" where it is undefined (an AUC on a folder of one class, say)."""
    return "-" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = ("Evaluate a model file on a dataset folder (covid/, normal/, viral_pneumonia/, optional manifest.csv); "
            "without --data, on the test split saved beside the model.")

    def add_arguments(self, parser):
        parser.add_argument("--data", help="dataset folder (default: the model's saved test split)")
        parser.add_argument("--model", help="LiteRT model file (default: the served model)")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        parser.add_argument("--plots", help="write confusion matrix, ROC and reliability PNGs here")
        parser.add_argument("--save", action="store_true",
                            help="also write the figures as metrics.json beside the model file, where register_model "
                                 "reads them for the versions list")
        parser.add_argument("--gate", help="input gate file (default: CXR_GATE_PATH, else the committed gate)")
        parser.add_argument("--not-cxr", help="also: a folder of images that are not frontal chest films, one "
                                              "subfolder per kind; reports the gate's refusal rate per kind")

    def handle(self, *args, **options):
        gate_path = options["gate"] or served_gate()
        model_path = Path(options["model"] or model_file(served_version()))
        metrics = evaluate(model_path=model_path, data_dir=options["data"], plots_dir=options["plots"],
                           gate_path=gate_path)
        if options["not_cxr"]:
            metrics["not_cxr"] = folder_refusal_rates(gate_path, options["not_cxr"])
        if options["save"]:
            (model_path.parent / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2))
            return
        self.stdout.write(f"{metrics['model']['name']}  sha256 {metrics['model']['sha256'][:16]}...  n={metrics['n']}")
        self.stdout.write(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
                          f"macro AUC {_figure(metrics['macro_auc'])}  ECE {metrics['ece']:.4f}  "
                          f"gate pass rate {metrics['gate_pass_rate']:.4f}")
        for label, figures in metrics["per_class"].items():
            self.stdout.write(f"  {label:16s} n={figures['n']:4d}  sensitivity {_figure(figures['sensitivity'])}  "
                              f"specificity {_figure(figures['specificity'])}  AUC {_figure(figures['auc'])}")
        for name, figures in {**metrics.get("per_source", {}), **metrics.get("subgroups", {})}.items():
            self.stdout.write(f"  {name:20s} n={figures['n']:4d}  accuracy {figures['accuracy']:.3f}")
        for name, figures in metrics["normals_by_view"].items():
            self.stdout.write(f"  normals, view {name:8s} n={figures['n']:4d}  called Normal {figures['called_normal']:.3f}"
                              f"  called COVID-19 {figures['called_covid']:.3f}")
        marker = metrics["marker_test"]
        self.stdout.write(f"marker test: COVID-19 probability moves {marker['mean_abs_change_covid']:.3f} on average "
                          f"(limit {marker['limit']})")
        if "heatmap_mass" in metrics:
            heat = metrics["heatmap_mass"]
            self.stdout.write(f"heatmap mass in the border {heat['border_share']:.3f} (even {heat['uniform_border']:.2f}), "
                              f"top band {heat['top_band_share']:.3f} (even {heat['uniform_top']:.2f})")
