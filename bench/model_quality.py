"""Model quality: `paper`, `blog` and the project's own network, same pipeline, same split.

One run makes one patient-group split, trains the three networks on it through
`classifier.training.train`, evaluates each exported LiteRT file on the held-out test split
through `classifier.training.evaluation.evaluate` (the code `evaluate_classifier` runs), times
serving, and writes the side-by-side table to BENCHMARKS.md. With `--ensemble-seeds`
it also evaluates an ensemble of own networks (the own run being one member) as a row of its own. With
`--install` the own network's output becomes the served model (classifier/trained/) with its
model card.

    .venv/bin/python bench/model_quality.py [--quick] [--reuse] [--archs own paper blog] [--install]

`--quick` trains one epoch on a tenth of the data: a smoke run of the whole path.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.report import stamp, table, write_section  # noqa: E402
from classifier.training.data import DEFAULT_DATA_DIR, read_records, read_split, split_records, write_split  # noqa: E402

TRAINED = ROOT / "classifier" / "trained"
MODEL_CARD = ROOT / "classifier" / "MODEL_CARD.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--out", default="/tmp/cxr-model-quality")
    parser.add_argument("--archs", nargs="+", default=["own", "paper", "blog"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ensemble-seeds", type=int, nargs="+", default=[],
                        help="also evaluate an ensemble of own networks, one per seed (--seed's is the own run); "
                             "BENCHMARKS.md's row: --ensemble-seeds 42 7")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep architectures already trained in --out")
    parser.add_argument("--install", action="store_true", help="copy the own network's output to classifier/trained")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split_file = make_split(Path(args.data), out, seed=args.seed, quick=args.quick)

    results = {}
    for arch in args.archs:
        results[arch] = run_one(arch, Path(args.data), out / arch, split_file, seeds=[args.seed],
                                epochs=1 if args.quick else None, reuse=args.reuse)
        print(json.dumps({arch: summary_row(arch, results[arch])}), flush=True)
    if "own" in results and len(args.ensemble_seeds) > 1:
        ensemble = out / "own-ensemble"
        if args.seed in args.ensemble_seeds and not (ensemble / f"seed{args.seed}").exists():
            shutil.copytree(out / "own", ensemble / f"seed{args.seed}")  # the member trained above
        results["own-ensemble"] = run_one("own", Path(args.data), ensemble, split_file, seeds=args.ensemble_seeds,
                                          epochs=1 if args.quick else None, reuse=args.reuse)
        print(json.dumps({"own-ensemble": summary_row("own-ensemble", results["own-ensemble"])}), flush=True)
    write_section("model-quality", "Model quality", report(results, quick=args.quick, seed=args.seed))
    if args.install and "own" in results and not args.quick:
        install(out / "own")


def make_split(data_dir: Path, out: Path, *, seed: int, quick: bool) -> Path:
    split_file = out / "split.csv"
    if split_file.exists():
        return split_file
    split = split_records(read_records(data_dir), seed=seed)
    if quick:
        split = {name: records[::10] for name, records in split.items()}
    write_split(split_file, split)
    return split_file


def run_one(arch: str, data_dir: Path, out: Path, split_file: Path, *, seeds: list[int], epochs: int | None,
            reuse: bool) -> dict:
    from classifier.training.ensemble import train_ensemble
    from classifier.training.evaluation import evaluate
    from classifier.training.train import train

    reused = reuse and (out / "training.json").exists()
    if not reused and len(seeds) > 1:  # members already in out/seed<N> are reused either way
        train_ensemble(arch=arch, data_dir=data_dir, out_dir=out, seeds=seeds, epochs=epochs, split_file=split_file,
                       verbose=2)
    elif not reused:
        train(arch=arch, data_dir=data_dir, out_dir=out, epochs=epochs, seed=seeds[0], split_file=split_file, verbose=2)
    training = json.loads((out / "training.json").read_text())
    model = out / training["litert_file"]
    metrics = evaluate(model_path=model, data_dir=data_dir, records=read_split(split_file)["test"],
                       plots_dir=out / "plots")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return {"training": training, "metrics": metrics, "serving": serving_speed(model), "reused": reused}


def serving_speed(model: Path, repeats: int = 5) -> dict:
    """LiteRT serving path: ms per image at batch 1 and images/s at batch 32 (median of repeats)."""
    import numpy as np

    from classifier.inference import Predictor

    predictor = Predictor(model)
    size = predictor.input_size
    one, batch = np.random.rand(1, size, size, 1).astype(np.float32), np.random.rand(32, size, size, 1).astype(np.float32)
    predictor.run(one)
    single, throughput = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(20):
            predictor.run(one)
        single.append((time.perf_counter() - started) / 20 * 1000)
        started = time.perf_counter()
        predictor.run(batch)
        throughput.append(32 / (time.perf_counter() - started))
    return {"ms_per_image": statistics.median(single), "images_per_second_batch32": statistics.median(throughput),
            "file_kb": model.stat().st_size / 1024}


def summary_row(arch: str, result: dict) -> list:
    m, t, s = result["metrics"], result["training"], result["serving"]
    members = f", {len(t['seeds'])} seeds" if t.get("seeds") else ""
    return [f"{arch} ({t['input_size']} px{members})", f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}",
            f"{m['per_class']['covid']['sensitivity']:.3f}", f"{m['macro_auc']:.4f}", f"{m['ece']:.3f}",
            f"{m['argmax']['accuracy']:.3f} / {m['argmax']['covid_sensitivity']:.3f}", f"{t['parameters']:,}", f"{t['train_minutes']:.1f}", f"{t['train_images_per_second']:.0f}",
            t["best_epoch"], f"{s['ms_per_image']:.2f}", f"{s['images_per_second_batch32']:.0f}", f"{s['file_kb']:.0f}"]


def report(results: dict, *, quick: bool, seed: int) -> str:
    header = ["network", "accuracy", "macro-F1", "COVID-19 sensitivity", "macro AUC", "ECE",
              "plain argmax: accuracy / COVID-19 sensitivity", "parameters",
              "training min", "training img/s", "best epoch", "serving ms/image", "serving img/s (batch 32)", "file KB"]
    rows = [summary_row(arch, result) for arch, result in results.items()]
    any_result = next(iter(results.values()))
    n = any_result["metrics"]["n"]
    lines = [
        stamp("tensorflow-cpu", "keras", "ai-edge-litert", "scikit-learn"),
        f"{'QUICK SMOKE RUN (1 epoch, a tenth of the data): figures mean nothing. ' if quick else ''}"
        f"Same patient-group split (seed {seed}), same training code "
        f"(class weights, EarlyStopping/ReduceLROnPlateau on validation loss, temperature scaling, and the "
        f"COVID-19 operating point fitted on validation for >= 0.98 COVID-19 sensitivity), "
        f"each network with its own augmentation (paper: brightness; blog: flip/zoom/shear as published; "
        f"own: brightness/contrast, small rotation/shift/zoom). Test split: {n} images, disjoint by patient group. "
        f"Serving figures: the exported LiteRT file through `classifier.inference.Predictor` (median of 5 repeats). "
        f"Training minutes and images/s are wall-clock on the shared 2 cores, with other jobs running.",
        "",
        table(header, rows),
        "",
        "Floors for the served model (`own`): accuracy >= 0.94, COVID-19 sensitivity >= 0.95, macro AUC >= 0.985.",
    ]
    if "own-ensemble" in results:
        lines.append("`own-ensemble`: own networks trained alike but for their seeds, logits averaged, one temperature "
                     "and operating point fitted on validation (`train_classifier --seeds`). Not served: see "
                     "classifier/MODEL_CARD.md.")
    reused = [arch for arch, result in results.items() if result["reused"]]
    if reused:
        lines.append(f"Trained by an earlier invocation on the same split and only re-evaluated here (`--reuse`): "
                     f"{', '.join(reused)}.")
    if "own" in results:
        ratios = [f"macro-F1 own / {arch}: {results['own']['metrics']['macro_f1'] / results[arch]['metrics']['macro_f1']:.3f}"
                  for arch in results if arch not in ("own", "own-ensemble")]
        if ratios:
            lines.append("Ratios in this run: " + "; ".join(ratios) + ".")
        subgroups = results["own"]["metrics"].get("subgroups", {})
        if subgroups:
            lines.append("Own network on normals by age: " + "; ".join(
                f"{name.replace('_', ' ')} accuracy {g['accuracy']:.3f} (n={g['n']})" for name, g in subgroups.items()) + ".")
    return "\n".join(lines)


def install(run_dir: Path) -> None:
    """Copy the own network's run into classifier/trained/ and rewrite the model card."""
    from classifier.training.model_card import write_model_card

    TRAINED.mkdir(exist_ok=True)
    for name in ("own.tflite", "own.tflite.json", "own.keras", "split.csv", "metrics.json", "training.json",
                 "training_curves.png"):
        shutil.copy2(run_dir / name, TRAINED / name)
    shutil.copytree(run_dir / "plots", TRAINED / "plots", dirs_exist_ok=True)
    write_model_card(TRAINED, MODEL_CARD)
    print(f"Installed {TRAINED / 'own.tflite'} and wrote {MODEL_CARD}")


if __name__ == "__main__":
    main()
