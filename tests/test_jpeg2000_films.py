"""JPEG 2000 films (issue 31): intake and the worker decode only the resolution level the models need, the
display is made whole after the case is filed, and a film is classified as its uncompressed twin is.

The tolerance: the model reads a JPEG 2000 film from its 625 x 750 level instead of the 2048 px display,
so its probabilities may differ from the uncompressed twin's by at most PROBABILITY_TOLERANCE (0.034 at
most on 24 films of the dataset made as below; another draw of the detector noise alone moves them up to
0.015); the label and the gate's verdict must be the same. The display is the twin's, byte for byte.
"""

import hashlib
import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image
from pydicom import uid

from cases import storage
from cases.intake.display import DISPLAY_MAX_SIDE, display_name_of, display_png, make_display
from cases.models import AuditEvent, Case, DicomNode
from classifier.gate import COMMITTED_GATE
from classifier.imaging import WORKING_SIDE, decode_image
from classifier.training.data import DEFAULT_DATA_DIR
from cxrsite.testing.dicomnet import Listener, send_with_storescu
from cxrsite.testing.dicoms import dicom_bytes, encapsulated_dicom_bytes, jpeg2000_dicom_bytes
from cxrsite.testing.images import chest_like_array
from cxrsite.testing.stack import running_stack, wait_for
from tests.conftest import require_shared
from tests.test_intake_upload import logged_in, stored_files, submit  # noqa: F401 - logged_in is a fixture

PROBABILITY_TOLERANCE = 0.05
REAL_SHAPE = (3000, 2500)  # rows x columns, as bench/dicom.py sends


def sixteen_bit(small: np.ndarray, shape: tuple[int, int], *, seed: int = 5) -> np.ndarray:
    """An 8-bit film upscaled to `shape`, 12 bits used of 16, with detector noise (as bench/dicom.py makes them)."""
    large = np.asarray(Image.fromarray(small).resize(shape[::-1], Image.Resampling.BICUBIC), dtype=np.float32) * 16
    return np.clip(large + np.random.default_rng(seed).normal(0, 12, shape), 0, 4095).astype(np.uint16)


def test_a_jpeg_2000_film_is_decoded_for_the_models_at_a_lower_level_and_whole_for_its_display():
    pixels = sixteen_bit(chest_like_array(256, seed=8), (1400, 1200))
    compressed, plain = jpeg2000_dicom_bytes(pixels), dicom_bytes(pixels)

    for_models = decode_image(compressed, at_least_side=WORKING_SIDE)

    assert for_models.reduced and for_models.pixels.shape == (700, 600)  # one level down: 600 >= 512
    assert (for_models.width, for_models.height) == (1200, 1400)  # the film's own size, for the case
    assert np.array_equal(decode_image(compressed).pixels, decode_image(plain).pixels)  # whole: lossless
    assert display_png(for_models, compressed) == display_png(decode_image(plain), plain)


def test_a_jpeg_2000_film_too_small_or_without_lower_levels_is_decoded_whole():
    pixels = sixteen_bit(chest_like_array(256, seed=8), (1400, 1200))
    single_level = encapsulated_dicom_bytes(pixels, uid.JPEG2000Lossless, format="JPEG2000", no_jp2=True,
                                            num_resolutions=1)
    small = jpeg2000_dicom_bytes(chest_like_array(256, seed=8))

    for data in (single_level, small):
        decoded = decode_image(data, at_least_side=WORKING_SIDE)
        assert not decoded.reduced and decoded.pixels.shape == (decoded.height, decoded.width)
    assert np.array_equal(decode_image(single_level, at_least_side=WORKING_SIDE).pixels,
                          decode_image(dicom_bytes(pixels)).pixels)


@pytest.mark.django_db
def test_a_jpeg_2000_film_is_filed_before_its_display_which_is_made_whole_when_first_shown(logged_in, clinic,
                                                                                          settings):
    pixels = sixteen_bit(chest_like_array(256, seed=9), (1400, 1200))
    compressed, plain = jpeg2000_dicom_bytes(pixels, patient_id="H-1001"), dicom_bytes(pixels)

    assert submit(logged_in, clinic, compressed, "chest.dcm").status_code == 302
    case = Case.objects.get()
    assert case.display_name == "" and (case.image_width, case.image_height) == (1200, 1400)
    assert [p.name for p in stored_files(settings)] == [case.image_name]  # the original only, so far

    shown = logged_in.get(reverse("cases:image", args=[case.public_id, "display"]))

    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert b"".join(shown.streaming_content) == display_png(decode_image(plain), plain)  # full quality
    case.refresh_from_db()
    assert case.display_name and len(stored_files(settings)) == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMAGE_VIEWED, case=case).count() == 1
    assert make_display(case.pk) and display_name_of(case) == case.display_name  # made once, kept
    assert len(stored_files(settings)) == 2


# --- Through the listener and a real worker -----------------------------------------------------

@pytest.fixture(scope="module")
def stack(django_db_setup):
    with running_stack(gate=COMMITTED_GATE) as running:
        yield running


@pytest.fixture(scope="module")
def listener(stack):
    running = Listener(stack.config).start()
    try:
        yield running
    finally:
        running.stop()


def dataset_films() -> list[np.ndarray]:
    """One film of each class of the dataset (the committed gate and model must see chest films)."""
    require_shared(DEFAULT_DATA_DIR / "normal")
    return [np.asarray(Image.open(sorted((DEFAULT_DATA_DIR / label).glob("*.png"))[0]).convert("L"))
            for label in ("covid", "normal", "viral_pneumonia")]


def finished(sop_uid: str) -> Case:
    wait_for(lambda: Case.objects.filter(sop_instance_uid=sop_uid, status=Case.Status.PREDICTED).exists(),
             timeout=120, interval=0.2, what=f"case {sop_uid} predicted")
    return Case.objects.get(sop_instance_uid=sop_uid)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_storage")
def test_a_jpeg_2000_film_and_its_uncompressed_twin_get_the_same_suggestion_and_display(listener, clinic,
                                                                                      tmp_path):
    DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    twins = []
    for index, small in enumerate(dataset_films()):
        pixels = sixteen_bit(small, REAL_SHAPE, seed=index)
        plain, compressed = tmp_path / f"plain-{index}.dcm", tmp_path / f"j2k-{index}.dcm"
        plain.write_bytes(dicom_bytes(pixels, patient_id=f"U-{index}"))
        compressed.write_bytes(jpeg2000_dicom_bytes(pixels, patient_id=f"J-{index}"))
        for path, option in ((plain, ()), (compressed, ("-xv",))):
            sent = send_with_storescu([path], port=listener.port, calling="XRAY1", options=option)
            assert sent.returncode == 0 and "Received Store Response (Success)" in sent.stderr, sent.stderr
        twins.append([Case.objects.get(patient__mrn=f"{kind}-{index}").sop_instance_uid for kind in "UJ"])

    for plain_uid, compressed_uid in twins:
        plain, compressed = finished(plain_uid), finished(compressed_uid)
        ours, theirs = compressed.predictions.get(), plain.predictions.get()
        assert (ours.label, ours.gate_passed) == (theirs.label, theirs.gate_passed)
        assert max(abs(ours.probabilities[k] - p) for k, p in theirs.probabilities.items()) <= PROBABILITY_TOLERANCE
        assert (compressed.image_width, compressed.image_height) == (2500, 3000)
        # The display, made by the upkeep worker after the case: the uncompressed twin's, full quality.
        wait_for(lambda: Case.objects.get(pk=compressed.pk).display_name, timeout=60, interval=0.2,
                 what="the display of the JPEG 2000 film")
        compressed.refresh_from_db()
        displayed = storage.path_of(compressed.display_name).read_bytes()
        assert hashlib.sha256(displayed).digest() == hashlib.sha256(
            storage.path_of(plain.display_name).read_bytes()).digest()
        assert max(Image.open(io.BytesIO(displayed)).size) == DISPLAY_MAX_SIDE
