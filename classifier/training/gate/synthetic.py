"""Synthetic negatives for the input gate: what gets uploaded by mistake, made in code.

Each generator takes a NumPy random Generator and returns 8-bit grayscale pixels (2-D, its
own size), so training, validation and evaluation draw from the same code with different
seeds. The ones built from a chest film (inverted, lungs cut off, figure, screenshot, tiny)
also take the film: they teach the gate that a chest film is not enough, it must be one
whole frontal film, right way round.
"""

import string

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def _size(rng, low: int = 160, high: int = 400) -> tuple[int, int]:
    return int(rng.integers(low, high)), int(rng.integers(low, high))


def noise(rng) -> np.ndarray:
    """Per-pixel random noise of several kinds, as in the issue (512 x 512 noise at 99.9 % COVID-19)."""
    shape = _size(rng, 128, 640)
    kind = rng.integers(4)
    if kind == 0:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == 1:
        return _clip(rng.normal(rng.uniform(60, 200), rng.uniform(10, 80), shape))
    if kind == 2:  # salt and pepper on a flat or noisy ground
        ground = rng.normal(rng.uniform(0, 255), rng.uniform(0, 30), shape)
        hits = rng.random(shape)
        fraction = rng.uniform(0.05, 0.5)
        ground[hits < fraction / 2] = 0
        ground[hits > 1 - fraction / 2] = 255
        return _clip(ground)
    colour = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)  # colour noise, made gray as uploads are
    return np.asarray(Image.fromarray(colour).convert("L"))


def smooth_noise(rng) -> np.ndarray:
    """Noise drawn coarse and upscaled (blobs, clouds): passes a per-pixel noise test."""
    shape = _size(rng)
    total = np.zeros(shape)
    for octave in range(int(rng.integers(1, 4))):
        cells = int(rng.integers(3, 48)) * 2**octave
        coarse = rng.random((cells, cells)).astype(np.float32)
        total += np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BICUBIC)) / 2**octave
    return _stretch(total, rng)


def gradient(rng) -> np.ndarray:
    shape = _size(rng)
    y, x = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = x * np.cos(angle) + y * np.sin(angle)
    else:
        ramp = np.hypot(x - rng.uniform(0, 1), y - rng.uniform(0, 1))
    return _stretch(ramp + rng.normal(0, rng.uniform(0, 0.02), shape), rng)


def uniform(rng) -> np.ndarray:
    shape = _size(rng)
    return _clip(np.full(shape, rng.uniform(0, 255)) + rng.normal(0, rng.uniform(0, 1), shape))


def pattern(rng) -> np.ndarray:
    """Checkerboards, stripes and grids: test charts and screen captures of them."""
    shape = _size(rng)
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    cell = rng.uniform(3, 64)
    kind = rng.integers(3)
    if kind == 0:
        on = ((x // cell + y // cell) % 2).astype(bool)
    elif kind == 1:
        angle = rng.uniform(0, np.pi)
        on = ((x * np.cos(angle) + y * np.sin(angle)) // cell % 2).astype(bool)
    else:
        on = (x % cell < cell / 6) | (y % cell < cell / 6)
    low, high = sorted(rng.uniform(0, 255, 2))
    return _clip(np.where(on, high, low))


def document(rng) -> np.ndarray:
    """A page or screen of rendered text, sometimes dark-themed, with rules and boxes."""
    shape = _size(rng, 200, 480)
    paper, ink = (rng.uniform(200, 255), rng.uniform(0, 90))
    image = Image.new("L", shape[::-1], int(paper))
    draw = ImageDraw.Draw(image)
    _write(draw, rng, shape, ink)
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 5))):
            box = sorted(rng.integers(0, shape[1], 2)), sorted(rng.integers(0, shape[0], 2))
            draw.rectangle([box[0][0], box[1][0], box[0][1], box[1][1]], outline=int(ink))
    pixels = np.asarray(image)
    return 255 - pixels if rng.random() < 0.3 else pixels


def screenshot(rng, film: np.ndarray) -> np.ndarray:
    """A page of an app (this one, say) showing a film in a panel among text and bars."""
    pixels = document(rng)
    height, width = pixels.shape
    page = Image.fromarray(pixels)
    ImageDraw.Draw(page).rectangle([0, 0, width, int(height * rng.uniform(0.05, 0.15))], fill=int(rng.uniform(0, 255)))
    side = int(min(height, width) * rng.uniform(0.25, 0.55))
    left, top = int(rng.integers(0, width - side)), int(rng.integers(height // 6, height - side))
    page.paste(Image.fromarray(film).resize((side, side)), (left, top))
    return np.asarray(page)


def figure(rng, films: list[np.ndarray]) -> np.ndarray:
    """A multi-panel figure of 2-4 films with gaps and panel letters, as in papers."""
    count = min(len(films), int(rng.integers(2, 5)))
    columns = count if count < 4 and rng.random() < 0.7 else 2
    rows = -(-count // columns)
    side, gap = int(rng.integers(80, 160)), int(rng.integers(2, 20))
    canvas = Image.new("L", (columns * (side + gap) + gap, rows * (side + gap) + gap), int(rng.choice([0, 255])))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=int(rng.integers(10, 24)))
    for index, film in enumerate(films[:count]):
        row, column = divmod(index, columns)
        left, top = gap + column * (side + gap), gap + row * (side + gap)
        canvas.paste(Image.fromarray(film).resize((side, side)), (left, top))
        draw.text((left + 4, top + 2), string.ascii_uppercase[index], fill=255, font=font)
    return np.asarray(canvas)


def shapes(rng) -> np.ndarray:
    """Overlapping coloured shapes ("dead leaves", with natural-image statistics) made gray."""
    shape = _size(rng)
    image = Image.new("RGB", shape[::-1], tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(20, 200))):
        radius = max(shape) * rng.uniform(0.01, 0.3) ** 1.5
        centre = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        box = [centre[0] - radius, centre[1] - radius * rng.uniform(0.3, 1.5), centre[0] + radius, centre[1] + radius]
        box[1], box[3] = sorted((box[1], box[3]))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.6 else draw.rectangle)(box, fill=fill)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))
    return np.asarray(image.convert("L"))


def inverted(rng, film: np.ndarray) -> np.ndarray:
    return 255 - film


def lungs_cut_off(rng, film: np.ndarray) -> np.ndarray:
    """Half a film or less: one side, the top or bottom, or a zoom into the middle; shown full size."""
    height, width = film.shape
    keep = rng.uniform(0.3, 0.55)
    if rng.random() < 0.6:  # a strip of one side, the top or the bottom, full length the other way
        vertical = rng.random() < 0.5
        length = int((height if vertical else width) * keep)
        start = 0 if rng.random() < 0.5 else (height if vertical else width) - length
        box = (0, start, width, start + length) if vertical else (start, 0, start + length, height)
    else:  # a zoom on one region
        h, w = int(height * keep), int(width * rng.uniform(0.3, 0.55))
        top, left = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        box = (left, top, left + w, top + h)
    return np.asarray(Image.fromarray(film).crop(box).resize((width, height), Image.Resampling.BILINEAR))


def tiny(rng, film: np.ndarray) -> np.ndarray:
    """A thumbnail: refused by size (a rule), not by the network."""
    side = int(rng.integers(16, 120))
    return np.asarray(Image.fromarray(film).resize((side, int(side * rng.uniform(0.8, 1.25)))))


# Generators of "not a radiograph" images that need no film, by name (evaluation reports per name).
PLAIN = {"noise": noise, "smooth_noise": smooth_noise, "gradient": gradient, "uniform": uniform,
         "pattern": pattern, "document": document, "shapes": shapes}


def _write(draw: ImageDraw.ImageDraw, rng, shape: tuple[int, int], ink: float) -> None:
    size = int(rng.integers(8, 36))
    font = ImageFont.load_default(size=size)
    y = int(rng.integers(0, size))
    while y < shape[0] - size:
        words = ["".join(rng.choice(list(string.ascii_letters + string.digits + "%.:"), int(rng.integers(1, 10))))
                 for _ in range(int(rng.integers(1, 12)))]
        draw.text((int(rng.integers(0, shape[1] // 4)), y), " ".join(words), fill=int(ink), font=font)
        y += int(size * rng.uniform(1.2, 2.5))


def _stretch(values: np.ndarray, rng) -> np.ndarray:
    """Map values onto a random gray range of at least 60 levels."""
    low = rng.uniform(0, 150)
    high = rng.uniform(low + 60, 255)
    span = values.max() - values.min()
    return _clip(low + (values - values.min()) / (span if span > 0 else 1) * (high - low))


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
