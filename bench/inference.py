"""Inference speed and memory: how the seeds served (Keras model.predict per image), Keras
called directly, and the project's serving path (LiteRT), side by side in one run.

Each way runs in its own fresh subprocess, so import cost and RSS are measured cleanly.
Batch 1 is timed per image over 20 images, batch 32 per batch; both repeated `--repeats` times
(default 5; median and min-max). "classify()" is the full serving path the worker runs per case:
preprocessing, LiteRT, calibrated probabilities and the CAM heatmap.

    .venv/bin/python bench/inference.py [--model-dir classifier/trained] [--repeats 5]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import rss_mb, spread, stamp, table, write_section  # noqa: E402

WAYS = {
    "keras_predict": "Keras model.predict per image (the seeds)",
    "keras_call": "Keras model called directly",
    "litert": "LiteRT interpreter (model only)",
    "classify": "classify(): LiteRT + preprocessing + heatmap (serving path)",
}


def measure(way: str, model_dir: Path, repeats: int) -> dict:
    """Runs inside the subprocess for one way."""
    import numpy as np

    from classifier.preprocessing import to_model_input
    from cxrsite.testing.images import chest_like_array

    started = time.perf_counter()
    if way.startswith("keras"):
        import keras

        model = keras.models.load_model(model_dir / "own.keras")
        size = model.input_shape[1]
        if way == "keras_predict":
            run = lambda x: model.predict(x, verbose=0)  # noqa: E731
        else:
            run = lambda x: model(x, training=False)  # noqa: E731
    else:
        from classifier.inference import Predictor

        predictor = Predictor(model_dir / "own.tflite")
        size = predictor.input_size
        run = predictor.run
    load_seconds = time.perf_counter() - started

    images = [chest_like_array(256, seed=i) for i in range(32)]
    batch = np.stack([to_model_input(pixels, size) for pixels in images])
    one_at_a_time = (lambda i: predictor.classify(images[i])) if way == "classify" else (lambda i: run(batch[i:i + 1]))
    one_at_a_time(0)
    run(batch)  # warm-up: graph tracing, allocation
    single, batched = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(20):
            one_at_a_time(i)
        single.append((time.perf_counter() - started) / 20 * 1000)
        started = time.perf_counter()
        run(batch)
        batched.append(32 / (time.perf_counter() - started))
    return {"load_seconds": load_seconds, "ms_per_image": single, "batch32_images_per_second": batched,
            "rss_mb": rss_mb(), "tensorflow_imported": "tensorflow" in sys.modules}


def in_subprocess(way: str, model_dir: Path, repeats: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--measure", way, "--model-dir", str(model_dir),
                             "--repeats", str(repeats)], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(results: dict, repeats: int) -> str:
    rows = []
    baseline = statistics.median(results["keras_predict"]["ms_per_image"])
    for way, r in results.items():
        median_ms = statistics.median(r["ms_per_image"])
        rows.append([WAYS[way], spread(r["ms_per_image"]), f"{1000 / median_ms:.0f}",
                     spread(r["batch32_images_per_second"]), f"{baseline / median_ms:.1f}x",
                     f"{r['rss_mb']:.0f}", f"{r['load_seconds']:.2f}", "yes" if r["tensorflow_imported"] else "no"])
    serving = statistics.median(results["classify"]["ms_per_image"])
    return "\n".join([
        stamp("tensorflow-cpu", "keras", "ai-edge-litert", "numpy"),
        "The served model (classifier/trained/own), 256x256 synthetic radiographs; batch 1 timed over 20 images, "
        f"batch 32 per batch, {repeats} repeats each: median (min-max). Each way in a fresh process; "
        "RSS after the run.",
        "",
        table(["way", "ms per image (batch 1)", "images/s (batch 1)", "images/s (batch 32)",
               "batch-1 throughput vs model.predict", "process RSS MB", "load s", "TensorFlow imported"], rows),
        "",
        f"Targets: serving path >= 10x the throughput of per-request model.predict: "
        f"**{baseline / serving:.1f}x**; in-task inference < 10 ms: **{serving:.2f} ms**; "
        f"worker RSS < 300 MB: serving process **{results['classify']['rss_mb']:.0f} MB** "
        f"(Keras: {results['keras_call']['rss_mb']:.0f} MB).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(ROOT / "classifier" / "trained"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--measure", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    model_dir = Path(args.model_dir)
    if args.measure:
        print(json.dumps(measure(args.measure, model_dir, args.repeats)))
        return
    results = {way: in_subprocess(way, model_dir, args.repeats) for way in WAYS}
    text = report(results, args.repeats)
    write_section("inference", "Inference: per-request model.predict vs the serving path", text)
    print(text)


if __name__ == "__main__":
    main()
