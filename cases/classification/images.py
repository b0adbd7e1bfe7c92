"""The pictures the worker draws: the film with the model's heatmap over it."""

import io

import numpy as np
from PIL import Image

STRIP_ROWS = 256  # blended a strip at a time: memory stays small whatever the film's size


def heatmap_png(pixels: np.ndarray, heatmap: np.ndarray) -> bytes:
    """The X-ray in gray with the heatmap over it in red-to-yellow (60 % at the hottest), as a PNG."""
    blended = np.empty((*pixels.shape, 3), dtype=np.uint8)
    for top in range(0, pixels.shape[0], STRIP_ROWS):
        rows = slice(top, top + STRIP_ROWS)
        gray = pixels[rows].astype(np.float32)
        heat = heatmap[rows].astype(np.float32) / 255.0
        alpha = 0.6 * heat
        kept = gray * (1 - alpha)
        for channel, colour in enumerate((np.float32(255.0), heat * 255.0, np.float32(0.0))):
            blended[rows, :, channel] = np.clip(kept + colour * alpha, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    # Level 1: a noisy film barely compresses further, and level 6 costs ~4x the time (~25 ms at 256 px).
    Image.fromarray(blended, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
