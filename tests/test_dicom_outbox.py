"""Results out without a network: which reviews make a DICOM result, once, and what a result that
cannot be built or has nowhere to go shows. Sending to a real PACS is in test_dicom_results.py."""

import pytest
from django.urls import reverse

from cases import storage
from cases.dicom import outbox
from cases.dicom.services import receive_instance
from cases.models import AuditEvent, DicomNode, DicomResult, Prediction
from cases.reviews.services import sign_review
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array
from tests.factories import predict, predicted_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def dicom_case(clinic):
    unit = DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    case = receive_instance(node=unit, data=dicom_bytes(chest_like_array(256)), address="127.0.0.1").case
    predict(case, "covid")
    return case


def test_a_signed_review_of_a_dicom_case_queues_one_result_after_the_commit(
        dicom_case, radiologist, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        review = sign_review(case=dicom_case, reviewer=radiologist, finding="covid")
    result = DicomResult.objects.get()
    assert (result.key, result.case, result.review, result.status) == (f"review-{review.pk}", dicom_case, review,
                                                                       DicomResult.Status.WAITING)
    assert len(callbacks) == 1
    again = outbox.queue_results(case=dicom_case, prediction=review.prediction, review=review)
    assert again == result and DicomResult.objects.count() == 1  # the unique key: once per review


def test_a_review_of_a_png_case_makes_no_dicom_result(clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff)
    sign_review(case=case, reviewer=radiologist, finding="covid")
    assert DicomResult.objects.count() == 0


def test_without_a_result_node_the_objects_are_kept_for_download(dicom_case, radiologist, staff, client):
    review = sign_review(case=dicom_case, reviewer=radiologist, finding="normal", note="Clear.")

    outcome = outbox.deliver_result(DicomResult.objects.get().pk, worker_host="test")

    result = DicomResult.objects.get()
    assert outcome == result.status == DicomResult.Status.KEPT and review.pk == result.review_id
    client.force_login(staff)
    page = client.get(reverse("cases:case_detail", args=[dicom_case.public_id])).content.decode()
    assert "Not sent: the clinic has no result node" in page
    capture = client.get(reverse("cases:dicom_result", args=[dicom_case.public_id, result.pk, "capture"]))
    assert capture.status_code == 200 and b"".join(capture.streaming_content)[128:132] == b"DICM"


def test_a_result_whose_film_is_missing_fails_with_a_plain_reason(dicom_case, radiologist, clinic):
    DicomNode.objects.create(name="PACS", ae_title="PACS", host="127.0.0.1", port=4242, clinic=clinic,
                             may_send=False, receives_results=True)
    sign_review(case=dicom_case, reviewer=radiologist, finding="covid")
    storage.delete(Prediction.objects.get(case=dicom_case).heatmap_name)

    assert outbox.deliver_result(DicomResult.objects.get().pk, worker_host="test") == DicomResult.Status.FAILED

    result = DicomResult.objects.get()
    assert result.last_error == "The DICOM objects could not be built." and result.report_name == ""
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_RESULT_FAILED).count() == 1
