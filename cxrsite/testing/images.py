"""Synthetic radiograph-like images for tests that must run anywhere (no ../shared)."""

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image


def chest_like_array(size: int = 256, seed: int = 0) -> np.ndarray:
    """A grayscale 8-bit image with two dark 'lungs' on a bright body, plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    body = 180 - 60 * (((x - 0.3) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1)
    body = body - 60 * (((x - 0.7) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1)
    noisy = body + rng.normal(0, 8, (size, size))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes(size: int = 256, seed: int = 0) -> bytes:
    return encode(chest_like_array(size, seed), "PNG")


def jpeg_bytes(size: int = 256, seed: int = 0) -> bytes:
    return encode(chest_like_array(size, seed), "JPEG")


def write_synthetic_dataset(root: Path, per_class: int = 24) -> Path:
    """A dataset folder like ../shared/datasets/cxr: three classes told apart by brightness,
    a manifest with one source per class, and patients of two images sharing a group."""
    from classifier.labels import LABELS

    rows = []
    for class_index, label in enumerate(LABELS):
        (root / label).mkdir()
        for i in range(per_class):
            pixels = np.clip(chest_like_array(64, seed=100 * class_index + i).astype(int) + 40 * (class_index - 1),
                             0, 255).astype(np.uint8)
            name = f"{label}/{label}_{i:02d}.png"
            (root / name).write_bytes(encode(pixels))
            rows.append({"file": name, "label": label, "source": f"synthetic_{label}", "group": f"{label}-p{i // 2}"})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "source", "group"])
        writer.writeheader()
        writer.writerows(rows)
    return root
