"""Reading a dataset folder and splitting it by patient group.

A dataset folder has `covid/`, `normal/`, `viral_pneumonia/` subfolders and optionally a
`manifest.csv` (columns file, label, source, group, ...). Without a manifest every image is
its own group and its source is "unknown".
"""

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from classifier.artifacts import SHARED_DATASETS_DIR
from classifier.labels import LABELS
from classifier.preprocessing import load_grayscale, to_model_input

DEFAULT_DATA_DIR = Path(os.environ.get("CXR_DATASET_DIR") or SHARED_DATASETS_DIR / "cxr")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm"}
SPLIT_FIELDS = ("file", "label", "source", "group", "split")


@dataclass(frozen=True)
class Record:
    file: str  # relative to the dataset folder
    label: str
    source: str
    group: str


def read_records(data_dir: str | Path) -> list[Record]:
    data_dir = Path(data_dir)
    manifest = data_dir / "manifest.csv"
    if manifest.exists():
        with manifest.open(newline="") as handle:
            return [Record(row["file"], row["label"], row.get("source") or "unknown", row.get("group") or row["file"])
                    for row in csv.DictReader(handle) if row["label"] in LABELS]
    records = []
    for label in LABELS:
        for path in sorted((data_dir / label).glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                relative = f"{label}/{path.name}"
                records.append(Record(relative, label, "unknown", relative))
    if not records:
        raise ValueError(f"No images under {data_dir}/{{{','.join(LABELS)}}}/")
    return records


def split_records(records: list[Record], *, seed: int, test_fraction: float = 0.15,
                  val_fraction: float = 0.15) -> dict[str, list[Record]]:
    """Disjoint train/val/test by group, stratified by class and source.

    Stratifying on class *and* source keeps every collection represented in the test split,
    so per-source results exist; since a source belongs to one class per row, this also
    stratifies by class.
    """
    test_idx, rest_idx = _one_fold(records, list(range(len(records))), round(1 / test_fraction), seed)
    rest = [records[i] for i in rest_idx]
    val_folds = round((1 - test_fraction) / val_fraction)
    val_idx, train_idx = _one_fold(rest, list(range(len(rest))), val_folds, seed)
    return {"train": [rest[i] for i in train_idx], "val": [rest[i] for i in val_idx],
            "test": [records[i] for i in test_idx]}


def _one_fold(records: list[Record], indices: list[int], n_splits: int, seed: int) -> tuple[list[int], list[int]]:
    strata = [f"{r.label}|{r.source}" for r in records]
    groups = [r.group for r in records]
    folder = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(folder.split(np.zeros(len(records)), strata, groups))
    return [indices[i] for i in held], [indices[i] for i in rest]


def write_split(path: str | Path, split: dict[str, list[Record]]) -> None:
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SPLIT_FIELDS)
        for name, records in split.items():
            for r in records:
                writer.writerow([r.file, r.label, r.source, r.group, name])


def read_split(path: str | Path) -> dict[str, list[Record]]:
    split: dict[str, list[Record]] = {"train": [], "val": [], "test": []}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            split[row["split"]].append(Record(row["file"], row["label"], row["source"], row["group"]))
    return split


def load_arrays(data_dir: str | Path, records: list[Record], size: int, *,
                equalise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (n, size, size, 1) and integer labels, through the one preprocessing path."""
    data_dir = Path(data_dir)
    x = np.empty((len(records), size, size, 1), dtype=np.float32)
    for i, record in enumerate(records):
        x[i] = to_model_input(load_grayscale(data_dir / record.file), size, equalise=equalise)
    y = np.array([LABELS.index(r.label) for r in records], dtype=np.int64)
    return x, y


def source_balanced_weights(records: list[Record]) -> np.ndarray:
    """Per-film weights: every class weighs the same, and within a class every source.

    So one hospital's many films (PadChest's COVID-19, Mooney's children) cannot make its
    look the class; normalised so that an average film weighs 1.
    """
    strata = [(r.label, r.source) for r in records]
    per_class = {label: len({s for l, s in strata if l == label}) for label, _ in strata}
    counts = {stratum: strata.count(stratum) for stratum in set(strata)}
    weights = np.array([1.0 / (per_class[label] * counts[(label, source)]) for label, source in strata])
    return weights * len(weights) / weights.sum()


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights normalised so that an average sample weighs 1."""
    counts = np.bincount(y, minlength=len(LABELS))
    return {i: float(len(y) / (len(LABELS) * c)) for i, c in enumerate(counts) if c}
