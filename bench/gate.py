"""Input gate: refusal and pass rates on held-out data, and what the gate adds per image.

Evaluates the committed gate (classifier/trained/gate.tflite) through `evaluate_gate`, as the
floor tests do: the not-cxr test split (by source), the chest test split, cxr-external, and
synthetic negatives. Then times `check()` and the classifier's `classify()` on the same
images in the same process (batch 1, 20 images, median and min-max over the repeats), at the
dataset's 256 px and at a 2048 px upload, and gives the gate's cost as a share of the classifier's.

    .venv/bin/python bench/gate.py [--repeats 5]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import spread, stamp, table, write_section  # noqa: E402


def timings(repeats: int) -> dict:
    from classifier.artifacts import COMMITTED_GATE, COMMITTED_MODEL
    from classifier.gate import check
    from classifier.inference import classify
    from cxrsite.testing.images import chest_like_array

    results = {}
    for size in (256, 2048):
        images = [chest_like_array(size, seed=i) for i in range(20)]
        check(images[0], gate_path=COMMITTED_GATE), classify(images[0], model_path=COMMITTED_MODEL)  # warm-up
        for name, run in (("gate", lambda p: check(p, gate_path=COMMITTED_GATE)),
                          ("classifier", lambda p: classify(p, model_path=COMMITTED_MODEL))):
            per_image = []
            for _ in range(repeats):
                started = time.perf_counter()
                for pixels in images:
                    run(pixels)
                per_image.append((time.perf_counter() - started) / len(images) * 1000)
            results[f"{name}_{size}"] = per_image
    return results


def evaluations() -> dict:
    from classifier.gate import COMMITTED_GATE
    from classifier.training.gate.data import NOT_CXR_DIR, chest_test_pairs
    from classifier.training.gate.evaluation import CXR_EXTERNAL_DIR, evaluate_gate

    return {"test": evaluate_gate(COMMITTED_GATE, chest_test_pairs(), NOT_CXR_DIR),
            "external": evaluate_gate(COMMITTED_GATE, CXR_EXTERNAL_DIR)}


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f} %"


def report(figures: dict, times: dict) -> str:
    test, external = figures["test"], figures["external"]
    not_cxr = test["not_cxr"]
    kinds = [[kind, f["n"], _percent(f["refusal_rate"]), _percent(f["sharper_half_refusal_rate"]),
              ", ".join(f"{reason} {count}" for reason, count in f["reasons"].items())]
             for kind, f in not_cxr["per_kind"].items()]
    sources = [[source, f["n"], _percent(f["refusal_rate"])] for source, f in not_cxr["per_source"].items()]
    chest = [[f"cxr test: {source}", f["n"], _percent(f["pass_rate"])] for source, f in test["chest"]["per_source"].items()]
    chest += [["cxr test, all", test["chest"]["n"], _percent(test["chest"]["pass_rate"])],
              ["cxr-external (NIH adult normals)", external["chest"]["n"], _percent(external["chest"]["pass_rate"])]]
    made = [[name, f["n"], _percent(f["refusal_rate"]), ", ".join(f"{r} {c}" for r, c in f["reasons"].items())]
            for name, f in test["synthetic"].items()]
    speed = []
    for size in (256, 2048):
        gate, classifier = statistics.median(times[f"gate_{size}"]), statistics.median(times[f"classifier_{size}"])
        speed.append([f"{size} x {size}", spread(times[f"gate_{size}"]), spread(times[f"classifier_{size}"]),
                      f"{gate / classifier:.2f}"])
    return "\n".join([
        stamp("ai-edge-litert", "numpy", "pillow"),
        f"Gate `{test['gate']['version']}` (sha256 `{test['gate']['sha256'][:16]}…`), thresholds fitted on validation "
        f"only: chest probability >= {test['thresholds']['chest_probability']:.4f}, distance <= "
        f"{test['thresholds']['ood_distance']:.2f}.",
        "", f"**not-cxr test split** (split by source; classifier/GATE_CARD.md): {_percent(not_cxr['refusal_rate'])} of "
        f"{not_cxr['n']} refused.", "",
        table(["kind", "n", "refused", "refused, sharper half", "reasons"], kinds), "",
        table(["source", "n", "refused"], sources), "",
        "**Chest films** (should pass):", "", table(["set", "n", "passed"], chest), "",
        "**Synthetic negatives** (own seed; inverted, cut off, tiny, screenshot and figure made from chest test films):",
        "", table(["kind", "n", "refused", "reasons"], made), "",
        "**Time per image**, batch 1, `check()` vs the classifier's `classify()` in the same process "
        "(median (min-max) ms over the repeats):", "",
        table(["image", "gate ms", "classifier ms", "gate / classifier"], speed),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    figures = evaluations()
    times = timings(args.repeats)
    write_section("gate", "Input gate", report(figures, times))
    print(report(figures, times))
    print(json.dumps({"timings_ms": times}))


if __name__ == "__main__":
    main()
