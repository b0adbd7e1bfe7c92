"""The input gate's data: not-cxr split by source, and the chest films it must let through.

not-cxr (../shared/datasets/not-cxr) is split so that the gate is judged on sources it has
not seen: the unit is the source repository. Five sources hold more than
`LARGE_SOURCE` images (the Cohen collection, BUSI, MedNIST, the knee set, scikit-image's
samples); kept whole, one of them would be a whole kind (every lateral film is Cohen's) and
that kind would be missing from two splits, so those are divided by patient where the file
name gives one (Cohen: article or patient, knees: OAI patient id) and by image otherwise.

The chest side is the classifier's own patient-group split (classifier/trained/split.csv)
plus cxr-extra, which has no test rows and is divided into train and validation by group.
"""

import csv
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.artifacts import TRAINED_DIR
from classifier.preprocessing import load_grayscale
from classifier.training.data import DEFAULT_DATA_DIR, Record, read_records, read_split

DATASETS_DIR = DEFAULT_DATA_DIR.parent
NOT_CXR_DIR = DATASETS_DIR / "not-cxr"
CXR_EXTRA_DIR = DATASETS_DIR / "cxr-extra"
CLASSIFIER_SPLIT = TRAINED_DIR / "split.csv"

# Which network class (= refusal reason) each not-cxr kind teaches.
KIND_CLASSES = {"photo": "not_radiograph", "document": "not_radiograph", "other_radiograph": "not_chest",
                "lateral_chest": "not_frontal", "ct": "other_modality", "other_medical": "other_modality"}
SPLIT_FRACTIONS = {"train": 0.5, "val": 0.2, "test": 0.3}
EXTRA_VAL_FRACTION = 0.2
LARGE_SOURCE = 20
SPLIT_FIELDS = ("file", "kind", "source_repo", "unit", "split")
# Trailing parts of Cohen file names that name a view, panel, day or figure of one case.
_COHEN_SUFFIX = re.compile(r"([-_](l|b|[a-e]|\d{1,2}|day\d+|on-admission|jumbo|lrg|f\d+))+$")


@dataclass(frozen=True)
class NegativeRecord:
    file: str  # relative to the not-cxr folder
    kind: str
    source_repo: str
    unit: str  # what the split keeps together


def read_not_cxr(not_cxr_dir: str | Path = NOT_CXR_DIR) -> list[NegativeRecord]:
    with (Path(not_cxr_dir) / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    sizes = Counter(row["source_repo"] for row in rows)
    return [NegativeRecord(row["file"], row["kind"], row["source_repo"], split_unit(row, sizes[row["source_repo"]]))
            for row in rows]


def split_unit(row: dict, source_size: int) -> str:
    """The repository, or for a large repository the patient (or image) inside it."""
    if source_size <= LARGE_SOURCE:
        return row["source_repo"]
    stem = Path(row["source_path"]).stem.lower()
    if "covid-chestxray" in row["source_repo"]:
        stem = _COHEN_SUFFIX.sub("", stem)
    elif "KneeOA" in row["source_repo"]:
        stem = stem.rstrip("lr")  # 9162458L and 9162458R: the two knees of one patient
    return f"{row['source_repo']}:{stem}"


def split_not_cxr(records: list[NegativeRecord], *, seed: int = 0) -> dict[str, list[NegativeRecord]]:
    """Units to splits, largest first, each to the split furthest below its share of the unit's kinds.

    Greedy on relative deficits, so every kind gets close to SPLIT_FRACTIONS in every split
    even though a repository may hold several kinds. Ties are broken by a seeded hash.
    """
    units: dict[str, list[NegativeRecord]] = defaultdict(list)
    for record in records:
        units[record.unit].append(record)
    totals = Counter(r.kind for r in records)
    counts = {name: Counter() for name in SPLIT_FRACTIONS}
    split: dict[str, list[NegativeRecord]] = {name: [] for name in SPLIT_FRACTIONS}
    order = sorted(units, key=lambda unit: (-len(units[unit]), _hash(f"{seed}:{unit}")))
    for unit in order:
        kinds = Counter(r.kind for r in units[unit])

        def deficit(name: str) -> float:
            return sum(n * (SPLIT_FRACTIONS[name] - counts[name][k] / totals[k]) for k, n in kinds.items())

        chosen = max(SPLIT_FRACTIONS, key=deficit)
        counts[chosen].update(kinds)
        split[chosen].extend(units[unit])
    return split


def write_not_cxr_split(path: str | Path, split: dict[str, list[NegativeRecord]]) -> None:
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SPLIT_FIELDS)
        for name, records in split.items():
            writer.writerows([r.file, r.kind, r.source_repo, r.unit, name] for r in sorted(records, key=lambda r: r.file))


def read_not_cxr_split(path: str | Path) -> dict[str, list[NegativeRecord]]:
    split: dict[str, list[NegativeRecord]] = {name: [] for name in SPLIT_FRACTIONS}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            split[row["split"]].append(NegativeRecord(row["file"], row["kind"], row["source_repo"], row["unit"]))
    return split


def chest_split(cxr_dir: str | Path = DEFAULT_DATA_DIR, extra_dir: str | Path | None = CXR_EXTRA_DIR,
                split_file: str | Path = CLASSIFIER_SPLIT) -> dict[str, list[tuple[Path, Record]]]:
    """(folder, record) pairs for train and val: the classifier's split, plus cxr-extra by group."""
    classifier_split = read_split(split_file)
    split = {name: [(Path(cxr_dir), r) for r in classifier_split[name]] for name in ("train", "val")}
    if extra_dir and (Path(extra_dir) / "manifest.csv").exists():
        for record in read_records(extra_dir):
            name = "val" if _hash(record.group) < EXTRA_VAL_FRACTION else "train"
            split[name].append((Path(extra_dir), record))
    return split


def chest_test_pairs(cxr_dir: str | Path = DEFAULT_DATA_DIR,
                     split_file: str | Path = CLASSIFIER_SPLIT) -> list[tuple[Path, Record]]:
    """The classifier's test rows: for reporting once, never for fitting or choosing."""
    return [(Path(cxr_dir), r) for r in read_split(split_file)["test"]]


def load_pixels(paths: list[Path]) -> list[np.ndarray]:
    """8-bit grayscale pixels as decoded for serving (any size)."""
    return [load_grayscale(path) for path in paths]


def _hash(text: str) -> float:
    """A stable number in [0, 1) for a string (Python's hash() changes between processes)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12
