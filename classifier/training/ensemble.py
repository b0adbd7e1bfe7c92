"""An ensemble of one architecture trained with different seeds: logits averaged.

Members differ only in their seed (initial weights, augmentation, batch order), so they make
partly independent mistakes; averaging their logits lowers the variance of the decision. One
temperature and one COVID-19 operating point are then fitted on validation for the ensemble,
exactly as for a single network, and the export is one LiteRT file whose class map is the mean
of the members' maps (exact, see `classifier.training.export`).

    <out>/seed<N>/...   each member's own training run (reused when already there)
    <out>/<arch>.keras, <arch>.tflite(.json), training.json, training_curves.png, split.csv
"""

import json
from datetime import datetime, timezone
from pathlib import Path

from classifier.labels import LABELS
from classifier.training.data import load_arrays, read_split


def build_ensemble(networks: list, name: str = "ensemble"):
    """One Keras model averaging the logits of `networks` (each ending in "logits" -> softmax)."""
    import keras
    from keras import layers

    inputs = keras.Input(networks[0].input_shape[1:])
    outputs = []
    for index, network in enumerate(networks):
        heads = [network.get_layer("logits").output]
        if any(layer.name == "features" for layer in network.layers):
            heads.append(network.get_layer("features").output)
        member = keras.Model(network.input, heads, name=f"member_{index}")
        outputs.append(keras.tree.flatten(member(inputs))[0])
    logits = layers.Average(name="logits")(outputs)
    probabilities = layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name=name)


def train_ensemble(*, arch: str, data_dir: str | Path, out_dir: str | Path, seeds: list[int],
                   epochs: int | None = None, split_file: str | Path | None = None, input_size: int | None = None,
                   precise_bn: bool = False, verbose: int = 1) -> dict:
    """Train (or reuse) one member per seed on one split, then calibrate and export the ensemble."""
    import keras

    from classifier.training.train import calibrate_and_export, train

    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    member_summaries = []
    for seed in seeds:
        member_dir = out_dir / f"seed{seed}"
        if not (member_dir / "training.json").exists():
            train(arch=arch, data_dir=data_dir, out_dir=member_dir, epochs=epochs, seed=seed, verbose=verbose,
                  split_file=split_file, input_size=input_size, precise_bn=precise_bn)
        member_summaries.append(json.loads((member_dir / "training.json").read_text()))
        split_file = split_file or member_dir / "split.csv"  # later members train on the first one's split
    first = out_dir / f"seed{seeds[0]}"
    split = read_split(first / "split.csv")
    for seed in seeds[1:]:  # a member trained on another split would have seen our validation images
        if read_split(out_dir / f"seed{seed}" / "split.csv") != split:
            raise ValueError(f"Member seed {seed} was trained on a different split from seed {seeds[0]}")
    (out_dir / "split.csv").write_bytes((first / "split.csv").read_bytes())

    networks = [keras.models.load_model(out_dir / f"seed{seed}" / s["keras_file"], compile=False)
                for seed, s in zip(seeds, member_summaries)]
    model = build_ensemble(networks, name=arch)
    model.save(out_dir / f"{arch}.keras")
    size = member_summaries[0]["input_size"]
    x_val, y_val = load_arrays(data_dir, split["val"], size)
    name = f"{arch}-ensemble{len(seeds)}-{datetime.now(timezone.utc):%Y%m%d-%H%M}-seeds{'-'.join(map(str, seeds))}"
    calibration = calibrate_and_export(model, out_dir / f"{arch}.tflite", x_val=x_val, y_val=y_val, metadata={
        "name": name, "architecture": arch, "labels": list(LABELS), "input_size": size,
        "data": str(data_dir), "split": "split.csv", "seeds": seeds})
    train_minutes = sum(s["train_minutes"] for s in member_summaries)
    images_seen = sum(s["train_images_per_second"] * s["train_minutes"] * 60 for s in member_summaries)
    summary = {
        "name": name, "architecture": arch, "seeds": seeds, "seed": "/".join(map(str, seeds)),
        "parameters": int(model.count_params()), "member_parameters": member_summaries[0]["parameters"],
        "input_size": size,
        "epochs_run": sum(s["epochs_run"] for s in member_summaries),
        "best_epoch": "/".join(str(s["best_epoch"]) for s in member_summaries),
        "train_images": member_summaries[0]["train_images"], "val_images": len(y_val),
        "test_images": len(split["test"]),
        "train_minutes": train_minutes, "train_images_per_second": images_seen / (train_minutes * 60),
        **calibration,
        "keras_file": f"{arch}.keras",
        "members": [{key: s[key] for key in ("name", "seed", "epochs_run", "best_epoch", "train_minutes",
                                             "val_accuracy", "val_nll")
                     if key in s} for s in member_summaries],
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    stack_images([out_dir / f"seed{seed}" / "training_curves.png" for seed in seeds], out_dir / "training_curves.png")
    return summary


def stack_images(paths: list[Path], out: Path) -> None:
    """The members' training-curve plots, one under another, as one PNG."""
    from PIL import Image

    images = [Image.open(path).convert("RGB") for path in paths if path.exists()]
    if not images:
        return
    canvas = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        canvas.paste(image, (0, top))
        top += image.height
    canvas.save(out)

