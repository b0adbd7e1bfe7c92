"""The heatmap at the network's resolution (issue 31): the worker stores a small grayscale class map,
and the film with the heatmap burned in is made once, on first need, for the places that need a flat
picture (the DICOM Secondary Capture, the printed report, the API), exactly as the worker drew it before.
The viewer's overlay in Chromium is compared in test_browser_heatmap.py."""

import io
import os
import time

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from cases import storage
from cases.classification.composites import heatmap_composite
from cases.classification.images import class_map_png, composite_png, read_class_map
from cases.dicom import outbox, results
from cases.dicom.services import receive_instance
from cases.models import DicomNode, DicomResult, Prediction
from cases.reviews.services import sign_review
from cases.storage.sweep import sweep_orphan_files
from classifier.artifacts import COMMITTED_MODEL
from classifier.inference import get_predictor
from classifier.preprocessing import load_grayscale, to_model_input
from classifier.validation import fixture_films
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, encode
from tests.factories import api_token, integration, predict, predicted_case

pytestmark = pytest.mark.django_db


def composite_before_issue_31(pixels: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """What the worker stored until issue 31, written out again here so the comparison cannot drift
    with the code: the map min-max scaled, rounded, resized (Pillow bilinear) to the film, blended."""
    cam = np.asarray(cam, dtype=np.float32)
    span = float(cam.max() - cam.min())
    scaled = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    small = Image.fromarray(np.rint(scaled * 255).astype(np.uint8))
    heat = np.asarray(small.resize((pixels.shape[1], pixels.shape[0]), Image.Resampling.BILINEAR), dtype=np.float32)
    heat /= 255.0
    alpha = 0.6 * heat
    kept = pixels.astype(np.float32) * (1 - alpha)
    return np.stack([np.clip(kept + colour * alpha, 0, 255).astype(np.uint8)
                     for colour in (np.float32(255.0), heat * 255.0, np.float32(0.0))], axis=-1)


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def stored_pixels(name: str) -> np.ndarray:
    with storage.open_file(name) as handle:
        return png_pixels(handle.read())


def test_the_composite_made_from_the_stored_map_equals_the_one_the_worker_drew_before_on_every_fixture_film():
    predictor = get_predictor(COMMITTED_MODEL)
    chest = chest_like_array(2048, seed=3)  # a film at the display size real films are shown at
    for film in [*fixture_films(), chest]:
        result = predictor.classify(film)
        x = to_model_input(film, predictor.input_size, equalise=predictor.equalise)[np.newaxis]
        cam = predictor.outputs(x)["cams"][0, :, :, predictor.labels.index(result.label)]
        stored = class_map_png(result.class_map)
        assert png_pixels(stored).shape == result.class_map.shape == cam.shape  # the network's resolution
        assert len(stored) < 1024
        assert np.array_equal(png_pixels(composite_png(film, read_class_map(stored))),
                              composite_before_issue_31(film, cam))


def test_the_report_heatmap_is_the_burned_in_composite_made_once_and_kept(client, clinic, staff):
    case, prediction = predicted_case(clinic, staff, "covid")
    client.force_login(staff)
    url = reverse("cases:image", args=[case.public_id, "heatmap"])
    first = b"".join(client.get(url).streaming_content)
    prediction.refresh_from_db()
    name = prediction.composite_name
    assert name and png_pixels(first).shape == (256, 256, 3)
    with storage.open_file(case.display_name) as handle:
        film = load_grayscale(handle.read())
    assert np.array_equal(png_pixels(first), png_pixels(composite_png(film, stored_pixels(prediction.heatmap_name))))
    assert b"".join(client.get(url).streaming_content) == first
    prediction.refresh_from_db()
    assert prediction.composite_name == name and len(list(storage.root().glob("??/*.png"))) == 3  # film, map, composite


def test_the_viewer_gets_the_small_class_map_and_the_report_page_the_composite(client, clinic, staff, radiologist):
    case, prediction = predicted_case(clinic, staff, "covid")
    client.force_login(radiologist)
    shown = b"".join(client.get(reverse("cases:image", args=[case.public_id, "class-map"])).streaming_content)
    assert png_pixels(shown).shape == (10, 10)
    client.force_login(staff)
    report = client.get(reverse("cases:report", args=[case.public_id])).content.decode()
    assert reverse("cases:image", args=[case.public_id, "heatmap"]) in report


def test_the_api_heatmap_is_the_burned_in_composite_and_the_api_has_no_class_map_kind(client, clinic, staff,
                                                                                      radiologist):
    case, prediction = predicted_case(clinic, staff, "covid")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    token = {"HTTP_AUTHORIZATION": f"Bearer {api_token(integration('Hillside EMR', clinic))}"}
    shown = client.get(reverse("api:case_image", args=[case.public_id, "heatmap"]), **token)
    prediction.refresh_from_db()
    assert np.array_equal(png_pixels(b"".join(shown.streaming_content)), stored_pixels(prediction.composite_name))
    assert client.get(reverse("api:case_image", args=[case.public_id, "class-map"]), **token).status_code == 404


def test_two_requests_racing_to_make_the_composite_keep_one_file_and_both_serve_it(clinic, staff):
    case, prediction = predicted_case(clinic, staff, "covid")
    stale = Prediction.objects.get(pk=prediction.pk)  # loaded before the first one made it
    first = heatmap_composite(prediction)
    stale.composite_name = ""  # as a request that read the row before the first wrote it sees it
    assert heatmap_composite(stale) == first
    assert sorted(path.name for path in storage.root().glob("??/*")) == sorted(
        {case.display_name, prediction.heatmap_name, first})


def test_the_sweep_never_deletes_a_composite(client, clinic, staff, settings):
    case, prediction = predicted_case(clinic, staff, "covid")
    name = heatmap_composite(prediction)
    old = time.time() - settings.CXR_ORPHAN_GRACE_SECONDS - 3600
    for path in storage.root().glob("??/*"):
        os.utime(path, (old, old))
    assert sweep_orphan_files()["orphans"] == 0
    assert storage.path_of(name).exists()


def test_a_prediction_stored_before_issue_31_keeps_its_rgb_heatmap_everywhere(client, clinic, staff, radiologist):
    case, prediction = predicted_case(clinic, staff, "covid")
    rgb = np.dstack([chest_like_array(256, seed=5)] * 3)
    rgb[..., 0] = 255  # a composite: colour
    Prediction.objects.filter(pk=prediction.pk).update(heatmap_name=storage.save_bytes(encode(rgb), ".png"))
    client.force_login(radiologist)
    for kind in ("class-map", "heatmap"):
        shown = b"".join(client.get(reverse("cases:image", args=[case.public_id, kind])).streaming_content)
        assert np.array_equal(png_pixels(shown), rgb)
    prediction.refresh_from_db()
    assert prediction.composite_name == ""


@pytest.fixture
def dicom_case(clinic):
    unit = DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    case = receive_instance(node=unit, data=dicom_bytes(chest_like_array(256)), address="127.0.0.1").case
    predict(case, "covid")
    return case


def test_a_case_whose_composite_was_never_made_sends_a_secondary_capture_with_the_heatmap_burned_in(
        dicom_case, radiologist):
    sign_review(case=dicom_case, reviewer=radiologist, finding="covid")
    prediction = Prediction.objects.get(case=dicom_case)
    assert prediction.composite_name == ""

    assert outbox.deliver_result(DicomResult.objects.get().pk, worker_host="test") == DicomResult.Status.KEPT

    prediction.refresh_from_db()
    capture = results.read(DicomResult.objects.get().capture_name).pixel_array
    composite = stored_pixels(prediction.composite_name)
    band = int(max(12, composite.shape[1] // 24) * 1.6) + 1  # the burned-in warning
    assert capture.shape == composite.shape
    assert np.array_equal(capture[band:], composite[band:])
    hot = composite[band:, :, 0].astype(int) - composite[band:, :, 2]
    assert (hot > 60).mean() > 0.1  # red-to-yellow where the map is hot, not a plain gray film
