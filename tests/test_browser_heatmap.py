"""The viewer draws the heatmap itself from the small class map the worker stores (issue 31): what a
radiologist sees in Chromium matches the composite the worker used to store, and a prediction stored
before that (its heatmap is the RGB composite) still shows as it did.

Compared on a screenshot of the viewer's canvas shown at 1:1 (CSS pixel = film pixel), default window
and level. Tolerance: at most 2 levels on any channel of any pixel, under 0.75 on average (measured:
2 and 0.47 at full opacity, 1.5 and 0.34 at half). The canvas keeps the overlay premultiplied by its
8-bit alpha and blends in 8 bits, and the default window shows odd gray levels one lower (as before).
"""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect

from cases import storage
from cases.classification.composites import heatmap_composite
from cases.models import Case, Prediction
from tests.a11y import DESKTOP, chromium, sign_in  # noqa: F401 (a fixture)
from cxrsite.testing.images import chest_like_array, encode
from tests.factories import predicted_case

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_LEVELS, MEAN_LEVELS = 2, 0.75
HEIGHT, WIDTH = 300, 240  # not square, not a multiple of the map's 10 cells


def film_case(clinic, staff):
    case, prediction = predicted_case(clinic, staff, "covid", mrn="OVERLAY-1")
    film = chest_like_array(HEIGHT, seed=7)[:, :WIDTH]
    name = storage.save_bytes(encode(film), ".png")
    Case.objects.filter(pk=case.pk).update(display_name=name, image_name=name, image_width=WIDTH, image_height=HEIGHT)
    case.refresh_from_db()
    prediction.refresh_from_db()
    return case, prediction, film


def viewer_pixels(page, opacity: int) -> np.ndarray:
    """The canvas as Chromium shows it, at one CSS pixel per film pixel, the heatmap on at `opacity` %."""
    page.get_by_label("Heatmap (h)").check()
    page.get_by_label("Heatmap opacity").fill(str(opacity))
    expect(page.locator("#viewer")).to_have_attribute("data-heatmap-shown", "true")
    canvas = page.locator("canvas.viewer-canvas")
    # At the page's top left, on whole pixels, one CSS pixel a film pixel: nothing resamples the screenshot.
    canvas.evaluate("""c => Object.assign(c.style, {position: "fixed", left: "0", top: "0", zIndex: "9999",
                                                     width: c.width + "px", height: c.height + "px", maxWidth: "none"})""")
    with Image.open(io.BytesIO(canvas.screenshot())) as shot:
        return np.asarray(shot.convert("RGB"), dtype=np.int16)


def open_review(chromium, live_server, radiologist, case):  # noqa: F811
    page = chromium.new_context(viewport=DESKTOP, device_scale_factor=1).new_page()
    sign_in(page, live_server.url, radiologist.username)
    page.goto(live_server.url + reverse("cases:review", args=[case.public_id]))
    expect(page.locator("#viewer")).to_have_attribute("data-ready", "true")
    return page


def assert_close(shown: np.ndarray, expected: np.ndarray) -> None:
    assert shown.shape == expected.shape
    difference = np.abs(shown - expected)
    assert difference.max() <= MAX_LEVELS and difference.mean() < MEAN_LEVELS, (difference.max(), difference.mean())


def windowed(gray: np.ndarray) -> np.ndarray:
    """The film under the viewer's default window and level (width 255, centre 128): v - 0.5, rounded
    half to even by the canvas, so odd levels show one lower. The same before and after issue 31."""
    return np.where(gray % 2 == 1, gray - 1, gray)


def composite_of(prediction: Prediction) -> np.ndarray:
    with storage.open_file(heatmap_composite(prediction)) as handle, Image.open(handle) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_viewer_overlay_drawn_from_the_class_map_matches_the_composite_the_worker_used_to_store(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    case, prediction, film = film_case(clinic, staff)
    composite = composite_of(prediction)
    gray = np.dstack([film] * 3).astype(np.int16)
    page = open_review(chromium, live_server, radiologist, case)
    # Full opacity: the composite itself. Half (the default): the film, and the composite at half over
    # it, as the viewer drew the stored composite before.
    assert_close(viewer_pixels(page, 100), composite)
    assert_close(viewer_pixels(page, 50), (windowed(gray) + composite) / 2)
    hot = composite[..., 0] - composite[..., 2]
    assert (hot > 60).mean() > 0.1  # there is a heatmap to compare, not a plain film
    page.context.close()


def test_a_prediction_stored_before_issue_31_still_shows_its_rgb_heatmap(
        live_server, clinic, staff, radiologist, chromium):  # noqa: F811
    case, prediction, film = film_case(clinic, staff)
    old = np.dstack([film, np.clip(film.astype(int) + 60, 0, 255).astype(np.uint8), np.zeros_like(film)])
    Prediction.objects.filter(pk=prediction.pk).update(heatmap_name=storage.save_bytes(encode(old), ".png"))
    page = open_review(chromium, live_server, radiologist, case)
    assert_close(viewer_pixels(page, 100), old.astype(np.int16))
    page.context.close()
