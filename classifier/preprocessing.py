"""The one preprocessing path: training, evaluation and serving all go through these two
functions, so the network sees the same numbers for the same file wherever it runs.

Histogram equalisation is a property of a model (its sidecar's `histogram_equalisation`,
read by the Predictor): models trained without it are served without it."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from classifier.imaging import decode_image


def load_grayscale(path_or_bytes: str | Path | bytes) -> np.ndarray:
    """Decode a PNG, JPEG or DICOM file (path or raw bytes) to 8-bit grayscale pixels."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return decode_image(data).pixels


def to_model_input(pixels: np.ndarray, size: int, *, equalise: bool = False) -> np.ndarray:
    """Resize 8-bit grayscale pixels to size x size and scale to [0, 1]: shape (size, size, 1).

    The whole image is resized without keeping the aspect ratio, as the dataset was built;
    PIL's bilinear filter low-passes when shrinking, so downscaling does not alias.
    `equalise` flattens the intensity histogram after the resize, so films exposed or
    processed differently by each hospital reach the network with the same grey levels.
    """
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    if equalise:
        image = ImageOps.equalize(image)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, np.newaxis]
