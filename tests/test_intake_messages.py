"""Refusals in plain words: no library output, and sizes a user can compare with the limit."""

import pytest

from classifier.imaging import ImageRejected, check_file_size
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, jpeg_bytes, png_bytes
from tests.test_intake_images import DAMAGED, rejection

MB = 1024 * 1024


@pytest.mark.parametrize(("kind", "data"), [
    ("PNG", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),  # Pillow: "cannot identify image file <_io.BytesIO …>"
    ("PNG", png_bytes()[:-30]),  # Pillow: "image file is truncated"
    ("JPEG", jpeg_bytes()[:-1500]),  # Pillow: "image file is truncated (0 bytes not processed)"
    ("DICOM", dicom_bytes(chest_like_array(192))[:9000]),  # pydicom: "The number of bytes of pixel data is less…"
])
def test_a_damaged_file_is_refused_in_plain_words_without_the_librarys_message(kind, data):
    assert rejection(data) == DAMAGED.format(kind)


def refusal_for_size(size: int, limit: int) -> str:
    with pytest.raises(ImageRejected) as caught:
        check_file_size(size, max_bytes=limit)
    return str(caught.value)


def test_a_file_one_byte_over_the_limit_never_reads_as_the_same_size_as_the_limit():
    assert refusal_for_size(25 * MB + 1, 25 * MB) == "The file (25.1 MB) is larger than the 25 MB limit."


def test_small_sizes_and_limits_are_shown_in_kilobytes_not_as_zero_megabytes():
    assert refusal_for_size(30_000, 20_000) == "The file (29.3 kB) is larger than the 19.5 kB limit."


def test_an_upload_whose_file_name_is_too_long_to_read_gets_a_page_that_says_what_to_do(client, staff, clinic):
    from django.urls import reverse

    client.force_login(staff)
    boundary = "cxrboundary"
    name = "x" * 1100 + ".png"  # a part header longer than Django's multipart parser reads
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/png\r\n\r\nnot read\r\n--{boundary}--\r\n").encode()
    response = client.generic("POST", reverse("cases:case_new"), body,
                              content_type=f"multipart/form-data; boundary={boundary}")
    page = response.content.decode()
    assert response.status_code == 400
    assert "its name may be too long" in page and "Bad Request (400)" not in page
