"""Evaluating a gate file as served: `check()` on every image, through the same preprocessing.

Chest films should pass (reported overall and per source); not-cxr images of one split
should be refused (overall, per kind, per source, for the sharper half of each kind, and
by each signal alone); synthetic negatives drawn with a seed of their own, and negatives
made from the evaluated chest films (inverted, cut off, tiny, in a figure or a screenshot),
should be refused with the right reason. TensorFlow is not needed.
"""

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from classifier.artifacts import file_sha256
from classifier.gate import CHEST, RULES, get_gate, read_gate_metadata
from classifier.preprocessing import load_grayscale
from classifier.training.data import Record, read_records
from classifier.training.gate import synthetic
from classifier.training.gate.data import DATASETS_DIR, read_not_cxr_split

# Evaluation only (its README): the gate's pass rate on chest films from elsewhere; nothing trains on it.
CXR_EXTERNAL_DIR = DATASETS_DIR / "cxr-external"

EVALUATION_SEED = 20261
SYNTHETIC_COUNT = 50  # per plain generator
DERIVED_FILMS = 100  # chest films each derived negative is made from
DERIVED = {"inverted": synthetic.inverted, "lungs_cut_off": synthetic.lungs_cut_off, "tiny": synthetic.tiny,
           "screenshot": synthetic.screenshot, "figure": lambda rng, film: synthetic.figure(rng, [film] * 3)}


def evaluate_gate(gate_path: str | Path, chest: str | Path | list[tuple[Path, Record]],
                  not_cxr_dir: str | Path | None = None, *, not_cxr_split: str = "test",
                  seed: int = EVALUATION_SEED) -> dict:
    """Figures for one gate file. `chest`: a dataset folder (all its images) or (folder, record) pairs."""
    gate = get_gate(gate_path)
    pairs = [(Path(chest), r) for r in read_records(chest)] if isinstance(chest, (str, Path)) else chest
    films = [load_grayscale(folder / r.file) for folder, r in pairs]
    figures = {
        "gate": {"version": gate.version, "file": Path(gate_path).name, "sha256": file_sha256(gate_path)},
        "thresholds": gate.thresholds,
        "chest": chest_pass_rates(gate, films, [r for _, r in pairs]),
    }
    if not_cxr_dir is not None:
        figures["not_cxr"] = _not_cxr(gate, Path(gate_path), Path(not_cxr_dir), not_cxr_split)
    rng = np.random.default_rng(seed)
    made = {name: [make(rng) for _ in range(SYNTHETIC_COUNT)] for name, make in synthetic.PLAIN.items()}
    made |= {name: [make(rng, film) for film in films[:DERIVED_FILMS]] for name, make in DERIVED.items()}
    figures["synthetic"] = {name: _refusals([gate.check(pixels) for pixels in images]) for name, images in made.items()}
    return figures


def chest_pass_rates(gate, films: list[np.ndarray], records: list[Record]) -> dict:
    """How many chest films pass, overall and per source, and which were refused (with the reason)."""
    verdicts = [gate.check(pixels) for pixels in films]
    passed = [v.passed for v in verdicts]
    return {**_rates(passed, "pass_rate"), "per_source": _grouped(passed, [r.source for r in records], "pass_rate"),
            "refused": [{"file": r.file, "source": r.source, "reason": v.reason}
                        for r, v in zip(records, verdicts) if not v.passed]}


def folder_refusal_rates(gate_path: str | Path, folder: str | Path) -> dict:
    """A folder of images that are not frontal chest films, one subfolder per kind: refused per kind."""
    gate, folder = get_gate(gate_path), Path(folder)
    refused = {kind.name: [not gate.check(load_grayscale(path)).passed for path in sorted(kind.glob("*"))
                           if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".dcm")]
               for kind in sorted(folder.iterdir()) if kind.is_dir()}
    everything = [value for values in refused.values() for value in values]
    return {**_rates(everything, "refusal_rate"),
            "per_kind": {kind: _rates(values, "refusal_rate") for kind, values in refused.items() if values}}


def _not_cxr(gate, gate_path: Path, not_cxr_dir: Path, split: str) -> dict:
    records = read_not_cxr_split(gate_path.parent / read_gate_metadata(gate_path)["not_cxr_split"])[split]
    images = [load_grayscale(not_cxr_dir / r.file) for r in records]
    verdicts = [gate.check(pixels) for pixels in images]
    refused = [not v.passed for v in verdicts]
    kinds = [r.kind for r in records]
    sharp = _sharper_half(images, kinds)
    per_kind = {}
    for kind, indices in sorted(_indices(kinds).items()):
        per_kind[kind] = {**_refusals([verdicts[i] for i in indices]),
                          "sharper_half_refusal_rate": _mean([refused[i] for i in indices if sharp[i]]),
                          "refused_by_signal_alone": _signals([verdicts[i].scores for i in indices], gate.thresholds)}
    return {"split": split, **_rates(refused, "refusal_rate"), "per_kind": per_kind,
            "per_source": _grouped(refused, [r.source_repo for r in records], "refusal_rate"),
            "passed": [{"file": r.file, "kind": r.kind, "source_repo": r.source_repo,
                        "chest_probability": round(v.scores[CHEST], 4), "ood_distance": round(v.scores["ood_distance"], 2)}
                       for r, v in zip(records, verdicts) if v.passed]}


def _signals(scores: list[dict], thresholds: dict) -> dict[str, float]:
    """What each of the three signals would refuse on its own: several are better than one."""
    return {"rules": _mean([any(refuses(s, thresholds) for refuses in RULES.values()) for s in scores]),
            "network": _mean([s[CHEST] < thresholds["chest_probability"] for s in scores]),
            "distance": _mean([s["ood_distance"] > thresholds["ood_distance"] for s in scores])}


def _sharper_half(images: list[np.ndarray], kinds: list[str]) -> list[bool]:
    """Per kind, whether an image is at or above the kind's median sharpness (mean |Laplacian|),
    so refusals cannot rest on blur alone (MedNIST images were 64 px, for instance)."""
    sharpness = np.array([_laplacian_energy(pixels) for pixels in images])
    sharp = [False] * len(images)
    for indices in _indices(kinds).values():
        median = np.median(sharpness[indices])
        for i in indices:
            sharp[i] = bool(sharpness[i] >= median)
    return sharp


def _laplacian_energy(pixels: np.ndarray) -> float:
    p = pixels.astype(np.float64)
    return float(np.abs(4 * p[1:-1, 1:-1] - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]).mean())


def _refusals(verdicts: list) -> dict:
    return {**_rates([not v.passed for v in verdicts], "refusal_rate"),
            "reasons": dict(Counter(v.reason for v in verdicts if not v.passed).most_common())}


def _grouped(values: list[bool], groups: list[str], name: str) -> dict:
    return {group: _rates([values[i] for i in indices], name) for group, indices in sorted(_indices(groups).items())}


def _rates(values: list[bool], name: str) -> dict:
    return {"n": len(values), name: _mean(values)}


def _indices(groups: list[str]) -> dict[str, list[int]]:
    found = defaultdict(list)
    for i, group in enumerate(groups):
        found[group].append(i)
    return found


def _mean(values: list[bool]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def validation_summary(figures: dict) -> dict:
    """The headline figures for the sidecar: pass and refusal rates, without the file lists."""
    summary = {"chest_pass_rate": figures["chest"]["pass_rate"],
               "chest_pass_rate_per_source": {s: f["pass_rate"] for s, f in figures["chest"]["per_source"].items()},
               "synthetic_refusal_rate": {k: f["refusal_rate"] for k, f in figures["synthetic"].items()}}
    if "not_cxr" in figures:
        summary["not_cxr_refusal_rate"] = figures["not_cxr"]["refusal_rate"]
        summary["not_cxr_refusal_rate_per_kind"] = {k: f["refusal_rate"] for k, f in figures["not_cxr"]["per_kind"].items()}
    return summary
