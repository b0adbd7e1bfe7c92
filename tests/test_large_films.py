"""Large films at a bounded cost: the display copy is at most 2048 px, the worker's memory stays
small, an 8-bit grayscale PNG is shown as it was sent, and a big upload blocks no one."""

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from cases import storage
from cases.intake import services as intake_services
from cases.intake.display import DISPLAY_MAX_SIDE, display_png
from cases.models import Case
from classifier.imaging import decode_image
from cxrsite.testing.images import chest_like_array, encode, png_bytes
from tests.test_worker_pipeline import submit_through_form, wait_until_finished

MB = 1024 * 1024


def huge_film(side: int = 7000) -> bytes:
    """A side x side film (blocks of a 700 px one): 49 MP, a few MB as PNG, under the upload limit."""
    return encode(np.kron(chest_like_array(side // 10, seed=4), np.ones((10, 10), dtype=np.uint8)))


def peak_rss_of_children(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    peaks = []
    for child in children:
        status = Path(f"/proc/{child}/status").read_text()
        peaks.append(int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024)
    return max(peaks)


def test_an_8_bit_grayscale_png_is_displayed_as_sent_with_only_its_image_chunks():
    pixels = chest_like_array(300, seed=2)
    buffer = io.BytesIO()
    info = PngInfo()
    info.add_text("Comment", "patient Jane Doe, /home/clinic/export")
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info)
    data = buffer.getvalue()
    shown = display_png(decode_image(data), data)
    assert b"Jane Doe" not in shown and b"tEXt" not in shown
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(shown))), pixels)  # same pixels, not re-encoded
    assert b"IDAT" in shown and shown.count(b"IDAT") == data.count(b"IDAT")


def test_a_film_larger_than_the_display_size_is_shown_at_2048_pixels_on_its_long_side():
    data = encode(np.kron(chest_like_array(300, seed=5), np.ones((10, 8), dtype=np.uint8)))  # 3000 x 2400
    shown = Image.open(io.BytesIO(display_png(decode_image(data), data)))
    assert max(shown.size) == DISPLAY_MAX_SIDE and shown.size == (1638, 2048)  # (width, height), ratio kept


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_storage")
def test_a_7000_pixel_film_is_classified_with_the_worker_child_under_300_mb(stack, client, staff, clinic):
    client.force_login(staff)
    data = huge_film()
    assert len(data) < 25 * MB
    response = submit_through_form(client, clinic, data)
    assert response.status_code == 200
    case = wait_until_finished(Case.objects.get(), timeout=120)
    assert case.status == Case.Status.PREDICTED, case.failure_reason
    assert (case.image_width, case.image_height) == (7000, 7000)
    assert max(Image.open(storage.path_of(case.display_name)).size) == DISPLAY_MAX_SIDE
    assert storage.path_of(case.image_name).read_bytes() == data  # the original, untouched, for download
    assert peak_rss_of_children(stack.worker.process.pid) < 300 * MB


@pytest.mark.django_db(transaction=True)
def test_other_requests_are_not_blocked_while_a_large_film_is_stored(staff, other_staff, clinic, other_clinic,
                                                                     monkeypatch):
    storing, other_done = threading.Event(), threading.Event()
    real_display_png = intake_services.display_png

    def display_png_waiting_for_the_other_request(image, data):
        storing.set()
        other_done.wait(timeout=60)  # the big upload stays mid-storage until the other request is answered
        return real_display_png(image, data)

    monkeypatch.setattr(intake_services, "display_png", display_png_waiting_for_the_other_request)
    results = {}

    def big_upload():
        big = Client()
        big.force_login(staff)
        results["big"] = submit_through_form(big, clinic, huge_film(4000), mrn="H-BIG").status_code

    upload = threading.Thread(target=big_upload)
    upload.start()
    assert storing.wait(timeout=60), "the big upload never started storing"
    monkeypatch.setattr(intake_services, "display_png", real_display_png)
    small = Client()
    small.force_login(other_staff)
    results["small"] = submit_through_form(small, other_clinic, png_bytes(seed=8), mrn="R-SMALL").status_code
    other_done.set()
    upload.join(timeout=120)
    assert results == {"small": 200, "big": 200}
    assert set(Case.objects.values_list("patient__mrn", flat=True)) == {"H-BIG", "R-SMALL"}
