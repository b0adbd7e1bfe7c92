"""Training the input gate end to end: data, network, distance score, thresholds, export.

Writes into the output folder: `gate.tflite` + `gate.tflite.json` (the served gate: version,
classes, input size, thresholds, data summary, validation figures), `gate_split.csv` (the
not-cxr split by source), `gate_metrics.json` (this run's figures) and `gate.keras`.
Each epoch is drawn afresh: every chest training film once, augmented, and a fixed mix of
augmented not-cxr images, synthetic negatives and negatives made from chest films.
"""

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from classifier.gate import CHEST, NETWORK_CLASSES, Gate, gate_input
from classifier.training.augmentation import augment_chest, augment_negative
from classifier.training.data import DEFAULT_DATA_DIR
from classifier.training.gate import synthetic
from classifier.training.gate.data import (
    CLASSIFIER_SPLIT, CXR_EXTRA_DIR, KIND_CLASSES, NOT_CXR_DIR, chest_split, load_pixels, read_not_cxr,
    split_not_cxr, write_not_cxr_split,
)
from classifier.training.gate.evaluation import evaluate_gate, validation_summary
from classifier.training.gate.network import build_gate_network, embeddings, export_gate, fit_mahalanobis
from classifier.training.gate.thresholds import fit_thresholds

SPLIT_NAME = "gate_split.csv"


@dataclass(frozen=True)
class EpochMix:
    """How many of each negative an epoch holds (beside every chest training film once)."""
    real_per_kind: int = 200  # each not-cxr kind, drawn with replacement, augmented
    synthetic_per_generator: int = 100  # each plain generator, screenshots and figures
    inverted: int = 300
    lungs_cut_off: int = 400


def examples(rng, films: list[np.ndarray], negatives: list[tuple[np.ndarray, str]], *, size: int,
             mix: EpochMix, augment: bool) -> tuple[np.ndarray, np.ndarray]:
    """Gate inputs and class indices. Without `augment` (validation): images as they are, each
    real one once, and a third of the synthetic counts."""
    share = 1 if augment else 3
    chest = (lambda: augment_chest(rng, films[rng.integers(len(films))])) if augment else \
        (lambda: films[rng.integers(len(films))])
    items = [(augment_chest(rng, film) if augment else film, CHEST) for film in films]
    for kind in sorted({kind for _, kind in negatives}):
        pool = [pixels for pixels, k in negatives if k == kind]
        picks = rng.integers(len(pool), size=mix.real_per_kind) if augment else range(len(pool))
        items += [(augment_negative(rng, pool[i], turn=kind != "lateral_chest") if augment else pool[i],
                   KIND_CLASSES[kind]) for i in picks]
    count = mix.synthetic_per_generator // share
    for make in synthetic.PLAIN.values():
        items += [(make(rng), "not_radiograph") for _ in range(count)]
    items += [(synthetic.screenshot(rng, chest()), "not_radiograph") for _ in range(count)]
    items += [(synthetic.figure(rng, [chest() for _ in range(4)]), "not_radiograph") for _ in range(count)]
    items += [(synthetic.inverted(rng, chest()), "inverted") for _ in range(mix.inverted // share)]
    items += [(synthetic.lungs_cut_off(rng, chest()), "lungs_cut_off") for _ in range(mix.lungs_cut_off // share)]
    order = rng.permutation(len(items))
    x = np.stack([gate_input(items[i][0], size) for i in order])
    return x, np.array([NETWORK_CLASSES.index(items[i][1]) for i in order])


def _epochs(films, negatives, *, size: int, mix: EpochMix, batch_size: int, seed: int):
    import keras

    class Epochs(keras.utils.PyDataset):
        """A fresh draw of `examples` for every epoch."""

        def __init__(self):
            super().__init__()
            self.epoch = 0
            self._draw()

        def _draw(self):
            rng = np.random.default_rng([seed, self.epoch])
            self.x, self.y = examples(rng, films, negatives, size=size, mix=mix, augment=True)

        def __len__(self):
            return -(-len(self.y) // batch_size)

        def __getitem__(self, index):
            return self.x[index * batch_size:(index + 1) * batch_size], self.y[index * batch_size:(index + 1) * batch_size]

        def on_epoch_end(self):
            self.epoch += 1
            self._draw()

    return Epochs()


def train_gate(*, out_dir: str | Path, cxr_dir: str | Path = DEFAULT_DATA_DIR,
               extra_dir: str | Path | None = CXR_EXTRA_DIR, not_cxr_dir: str | Path = NOT_CXR_DIR,
               split_file: str | Path = CLASSIFIER_SPLIT, epochs: int = 40, seed: int = 42, input_size: int = 96,
               width: int = 16, batch_size: int = 64, mix: EpochMix = EpochMix(), threads: int = 1,
               verbose: int = 2) -> dict:
    """Train, fit the distance score and thresholds on validation, export; return the run's figures."""
    import tensorflow as tf

    import keras

    try:  # others share the machine; TensorFlow refuses once it has run (another training in this process)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    keras.utils.set_random_seed(seed)
    out_dir, not_cxr_dir = Path(out_dir), Path(not_cxr_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    chest = chest_split(cxr_dir, extra_dir, split_file)
    films = {name: load_pixels([folder / r.file for folder, r in pairs]) for name, pairs in chest.items()}
    not_cxr = split_not_cxr(read_not_cxr(not_cxr_dir))
    write_not_cxr_split(out_dir / SPLIT_NAME, not_cxr)
    negatives = {name: list(zip(load_pixels([not_cxr_dir / r.file for r in not_cxr[name]]),
                                [r.kind for r in not_cxr[name]])) for name in ("train", "val")}
    x_val, y_val = examples(np.random.default_rng([seed, 10**6]), films["val"], negatives["val"], size=input_size,
                            mix=mix, augment=False)

    model = build_gate_network(input_size, len(NETWORK_CLASSES), width=width)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoint = out_dir / "gate.keras"
    started = time.perf_counter()
    history = model.fit(_epochs(films["train"], negatives["train"], size=input_size, mix=mix, batch_size=batch_size,
                                seed=seed), validation_data=(x_val, y_val), epochs=epochs, verbose=verbose,
                        callbacks=[keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
                                   keras.callbacks.EarlyStopping(monitor="val_loss", patience=8),
                                   keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3)])
    train_seconds = time.perf_counter() - started
    model = keras.models.load_model(checkpoint, compile=False)  # the best epoch

    # The distance is from the chest training films as they are (no augmentation).
    mean, whitening = fit_mahalanobis(embeddings(model, np.stack([gate_input(p, input_size) for p in films["train"]])))
    path = out_dir / "gate.tflite"
    difference = export_gate(model, mean, whitening, path, probe=x_val[:64])
    version = f"gate-{datetime.now(timezone.utc):%Y%m%d-%H%M}-seed{seed}"
    metadata = {"version": version, "classes": list(NETWORK_CLASSES), "input_size": input_size,
                "not_cxr_split": SPLIT_NAME, "litert_max_relative_difference": difference,
                "data": data_summary(chest, not_cxr, mix), "thresholds": {}}
    _write_sidecar(path, metadata)
    gate = Gate(path)  # thresholds come from the served file's own scores on validation films
    thresholds, fitting = fit_thresholds([gate.scores(p) for p in films["val"]])
    _write_sidecar(path, {**metadata, "thresholds": thresholds, "threshold_fitting": fitting})

    validation = evaluate_gate(path, chest["val"], not_cxr_dir, not_cxr_split="val")
    _write_sidecar(path, {**metadata, "thresholds": thresholds, "threshold_fitting": fitting,
                          "validation": validation_summary(validation)})
    epochs_run = len(history.history["loss"])
    summary = {"version": version, "parameters": int(model.count_params()), "input_size": input_size,
               "epochs_run": epochs_run, "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
               "best_val_loss": float(min(history.history["val_loss"])), "train_minutes": train_seconds / 60,
               "threads": threads, "epoch_mix": asdict(mix), "litert_file": path.name,
               "litert_bytes": path.stat().st_size, "thresholds": thresholds, "threshold_fitting": fitting,
               "validation": validation}
    (out_dir / "gate_metrics.json").write_text(json.dumps(summary, indent=2))
    return summary


def data_summary(chest: dict, not_cxr: dict, mix: EpochMix) -> dict:
    return {"chest": {name: dict(sorted(Counter(r.source for _, r in pairs).items())) for name, pairs in chest.items()},
            "not_cxr": {name: dict(sorted(Counter(r.kind for r in records).items())) for name, records in not_cxr.items()},
            "synthetic_per_epoch": asdict(mix)}


def _write_sidecar(path: Path, metadata: dict) -> None:
    Path(f"{path}.json").write_text(json.dumps(metadata, indent=2))
