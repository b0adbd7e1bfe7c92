"""The one preprocessing path: training, evaluation and serving all go through these two
functions, so the network sees the same numbers for the same file wherever it runs.

Histogram equalisation is a property of a model (its sidecar's `histogram_equalisation`,
read by the Predictor): models trained without it are served without it."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from classifier.imaging import decode_image, decode_picture

# 8-bit grayscale pixels: an array (rows, columns), or the same pixels as a Pillow image in mode L
# (`load_picture`), which every function here treats alike.
Pixels = np.ndarray | Image.Image


def load_grayscale(path_or_bytes: str | Path | bytes) -> np.ndarray:
    """Decode a PNG, JPEG or DICOM file (path or raw bytes) to 8-bit grayscale pixels."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return decode_image(data).pixels


def load_picture(data: bytes) -> Image.Image:
    """The pixels `load_grayscale` gives, as a Pillow image (mode L): for a caller that only shrinks them
    (the worker's gate and model), which then skips copying a large film into an array."""
    return decode_picture(data)


def as_picture(pixels: Pixels) -> Image.Image:
    if isinstance(pixels, Image.Image):
        return pixels
    return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))


def shape_of(pixels: Pixels) -> tuple[int, int]:
    """(rows, columns), without turning a picture into an array."""
    if isinstance(pixels, Image.Image):
        return pixels.height, pixels.width
    return np.shape(pixels)


def to_model_input(pixels: Pixels, size: int, *, equalise: bool = False) -> np.ndarray:
    """Resize 8-bit grayscale pixels to size x size and scale to [0, 1]: shape (size, size, 1).

    The whole image is resized without keeping the aspect ratio, as the dataset was built;
    PIL's bilinear filter low-passes when shrinking, so downscaling does not alias.
    `equalise` flattens the intensity histogram after the resize, so films exposed or
    processed differently by each hospital reach the network with the same grey levels.
    """
    image = as_picture(pixels)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    if equalise:
        image = ImageOps.equalize(image)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, np.newaxis]
