"""The pictures of a prediction: the class map the worker stores, and the film with the heatmap burned in.

The worker stores only the class map, at the network's own resolution, as an 8-bit grayscale PNG
(a few hundred bytes): the review page's viewer colours and scales it in the browser
(static/cxr/viewer.js, the same colour map). The burned-in composite is for places that need a
flat picture (the DICOM Secondary Capture, the printed report); cases/classification/composites.py
makes it once, on first need. Predictions stored before that change name the composite itself.
"""

import io

import numpy as np
from PIL import Image

from classifier.inference import resized_map

STRIP_ROWS = 256  # blended a strip at a time: memory stays small whatever the film's size
HOTTEST_OPACITY = 0.6  # the heatmap's opacity where the map is 255 (the viewer's OVERLAY_OPACITY)


def class_map_png(class_map: np.ndarray) -> bytes:
    """The class map (uint8, the network's resolution) as a grayscale PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(class_map, dtype=np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def is_class_map(png: bytes) -> bool:
    """True for a stored class map (grayscale); False for a composite stored before issue 31 (RGB)."""
    with Image.open(io.BytesIO(png)) as image:
        return image.mode == "L"


def read_class_map(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def composite_png(pixels: np.ndarray, class_map: np.ndarray) -> bytes:
    """The film with the class map resized over it: the picture the worker used to store."""
    return heatmap_png(pixels, resized_map(class_map, pixels.shape))


def heatmap_png(pixels: np.ndarray, heatmap: np.ndarray) -> bytes:
    """The X-ray in gray with the heatmap over it in red-to-yellow (60 % at the hottest), as a PNG."""
    blended = np.empty((*pixels.shape, 3), dtype=np.uint8)
    for top in range(0, pixels.shape[0], STRIP_ROWS):
        rows = slice(top, top + STRIP_ROWS)
        gray = pixels[rows].astype(np.float32)
        heat = heatmap[rows].astype(np.float32) / 255.0
        alpha = HOTTEST_OPACITY * heat
        kept = gray * (1 - alpha)
        for channel, colour in enumerate((np.float32(255.0), heat * 255.0, np.float32(0.0))):
            blended[rows, :, channel] = np.clip(kept + colour * alpha, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # Level 1: a noisy film barely compresses further, and level 6 costs ~4x the time (~25 ms at 256 px).
    Image.fromarray(blended, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
