"""Results go back to the PACS as DICOM: Orthanc is the clinic's PACS, a real worker builds and sends
the Structured Report and the Secondary Capture after a radiologist signs."""

import io
import time

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pydicom import uid

from cases.dicom import outbox
from cases.models import AuditEvent, Case, DicomNode, DicomResult, Prediction
from cases.reviews.services import amend_review, sign_review
from classifier.labels import LABELS
from cxrsite.testing.dicomnet import running_orthanc, validation_findings
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array
from cxrsite.testing.stack import free_port, running_stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]
STUDY = uid.generate_uid()
SR_CLASS, SC_CLASS = uid.ComprehensiveSRStorage, uid.SecondaryCaptureImageStorage
# dciodvfy knows the standard's coding schemes only; ours is a declared local one (PS3.16 8.2: "99" prefix).
LOCAL_SCHEME = "Warning - Unrecognized defined term <99CXRTRIAGE>"


@pytest.fixture(scope="module")
def stack(django_db_setup):
    # Short backoff (1, 2, 4, 8 s) and five tries, so an outage and a give-up both fit in a test.
    with running_stack(env={"CXR_DICOM_RETRY_SECONDS": "1", "CXR_DICOM_SEND_ATTEMPTS": "5"}) as running:
        yield running


@pytest.fixture
def pacs(tmp_path):
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        yield orthanc


def pacs_node(clinic, *, port: int, ae_title: str = "PACS", **options) -> DicomNode:
    return DicomNode.objects.create(name="Hillside PACS", ae_title=ae_title, host="127.0.0.1", port=port,
                                    clinic=clinic, may_send=False, receives_results=True, **options)


def predicted_dicom_case(client, staff, clinic) -> Case:
    """A DICOM film submitted through the form and classified by the worker."""
    client.force_login(staff)
    film = dicom_bytes(chest_like_array(256, seed=11), patient_id="P-900",
                       extra={"StudyInstanceUID": STUDY, "PatientSex": "M", "PatientBirthDate": "19500101",
                              "StudyDate": "20261201", "StudyTime": "093000"})
    client.post(reverse("cases:case_new"), {"clinic": clinic.pk, "mrn": "", "age": "75", "sex": "M", "view": "",
                                            "image": SimpleUploadedFile("film.dcm", film)})
    case = Case.objects.get()
    wait_for(lambda: Case.objects.get(pk=case.pk).status == Case.Status.PREDICTED, timeout=60, interval=0.1,
             what="the case to be predicted")
    return Case.objects.get(pk=case.pk)


def result_in(status: str, *, key: str | None = None, timeout: float = 60) -> DicomResult:
    results = DicomResult.objects.filter(**({"key": key} if key else {}))
    wait_for(lambda: results.filter(status=status).exists(), timeout=timeout, interval=0.2,
             what=f"a DICOM result to be {status}")
    return results.get(status=status)


def of_class(instances: list[dict], sop_class: str) -> list[dict]:
    return [tags for tags in instances if tags["SOPClassUID"] == sop_class]


def validator_complaints(pacs) -> dict[str, list[str]]:
    """dciodvfy's errors and warnings about each object the PACS holds, as a viewer fetches it."""
    return {instance: [line for line in validation_findings(pacs.file(instance)) if not line.startswith(LOCAL_SCHEME)]
            for instance in pacs.get("/instances")}


def report_values(tags: dict) -> dict:
    """The SR's content items by concept meaning: a code's value, a number, or a text."""
    values = {}
    for item in tags["ContentSequence"]:
        name = item["ConceptNameCodeSequence"][0]["CodeMeaning"]
        if "ConceptCodeSequence" in item:
            values[name] = item["ConceptCodeSequence"][0]["CodeValue"]
        elif "MeasuredValueSequence" in item:
            values[name] = float(item["MeasuredValueSequence"][0]["NumericValue"])
        else:
            values[name] = item["TextValue"]
    return values


def expected_values(prediction: Prediction, finding: str, note: str) -> dict:
    names = {"covid": "COVID-19", "normal": "Normal", "viral_pneumonia": "Viral Pneumonia"}
    return {"AI suggestion, not a diagnosis": prediction.label, "Algorithm Name": "CXR Triage",
            "Algorithm Version": prediction.model_version.name, "Finding": finding, "Comment": note,
            **{f"Probability of {names[label]}": pytest.approx(prediction.probabilities[label], abs=1e-6)
               for label in LABELS}}


def test_after_signing_orthanc_holds_an_sr_with_the_cases_values_and_a_secondary_capture_in_the_same_study(
        pacs, client, staff, radiologist, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)
    prediction = Prediction.objects.get(case=case)
    finding = next(label for label in LABELS if label != prediction.label)  # an override, with its note

    sign_review(case=case, reviewer=radiologist, finding=finding, note="Patchy right lower zone.")

    result_in(DicomResult.Status.SENT)
    instances = pacs.instances()
    (report,), (capture,) = of_class(instances, SR_CLASS), of_class(instances, SC_CLASS)
    assert report_values(report) == expected_values(prediction, finding, "Patchy right lower zone.")
    assert (report["CompletionFlag"], report["VerificationFlag"]) == ("COMPLETE", "VERIFIED")
    assert report["StudyInstanceUID"] == capture["StudyInstanceUID"] == STUDY
    assert (report["PatientID"], capture["PatientID"]) == ("P-900", "P-900")
    assert len(instances) == 2
    page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert "Signed report to Hillside PACS" in page and ">sent<" in page
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_RESULT_SENT).count() == 1


def test_the_report_and_the_capture_are_two_series_of_one_modality_each_and_dciodvfy_finds_nothing_wrong(
        pacs, client, staff, radiologist, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)

    sign_review(case=case, reviewer=radiologist, finding=Prediction.objects.get(case=case).label, note="Clear.")

    result_in(DicomResult.Status.SENT)
    series = {tags["MainDicomTags"]["Modality"]: tags for tags in pacs.series()}
    assert sorted(series) == ["OT", "SR"] and [len(one["Instances"]) for one in series.values()] == [1, 1]
    main = [one["MainDicomTags"] for one in series.values()]
    assert len({tags["SeriesInstanceUID"] for tags in main}) == len({tags["SeriesNumber"] for tags in main}) == 2
    assert "not a diagnosis" in series["OT"]["MainDicomTags"]["SeriesDescription"]
    assert "report" in series["SR"]["MainDicomTags"]["SeriesDescription"]
    (capture,) = of_class(pacs.instances(), SC_CLASS)
    assert capture["BurnedInAnnotation"] == "YES"
    complaints = validator_complaints(pacs)
    assert list(complaints.values()) == [[], []], complaints


def test_an_amended_review_sends_an_amended_report_that_names_the_one_it_replaces(
        pacs, client, staff, radiologist, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)
    prediction = Prediction.objects.get(case=case)
    first = sign_review(case=case, reviewer=radiologist, finding=prediction.label)
    result_in(DicomResult.Status.SENT, key=f"review-{first.pk}")

    amendment = amend_review(review=first, reviewer=radiologist, finding="other", reason="Old film compared.")

    result_in(DicomResult.Status.SENT, key=f"review-{amendment.pk}")
    reports = sorted(of_class(pacs.instances(), SR_CLASS), key=lambda tags: "PredecessorDocumentsSequence" in tags)
    assert len(reports) == 2 and report_values(reports[1])["Finding"] == "other"
    predecessor = reports[1]["PredecessorDocumentsSequence"][0]["ReferencedSeriesSequence"][0]
    assert predecessor["ReferencedSOPSequence"][0]["ReferencedSOPInstanceUID"] == reports[0]["SOPInstanceUID"]
    complaints = validator_complaints(pacs)
    assert len(complaints) == 4 and all(found == [] for found in complaints.values()), complaints


def test_with_orthanc_stopped_the_result_waits_and_is_delivered_once_when_it_returns(
        pacs, client, staff, radiologist, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)
    pacs.stop()

    sign_review(case=case, reviewer=radiologist, finding=Prediction.objects.get(case=case).label)

    wait_for(lambda: DicomResult.objects.filter(status=DicomResult.Status.WAITING, attempts__gte=2).exists(),
             timeout=30, interval=0.2, what="two failed tries")
    page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert ">waiting<" in page and "did not accept the connection" in page
    pacs.start()
    result = result_in(DicomResult.Status.SENT, timeout=60)
    assert result.attempts >= 3
    instances = pacs.instances()
    assert len(of_class(instances, SR_CLASS)) == 1 and len(of_class(instances, SC_CLASS)) == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_RESULT_SENT).count() == 1


def test_a_result_signed_while_redis_is_down_is_sent_once_the_reaper_finds_it(
        pacs, stack, client, staff, radiologist, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)
    stack.redis.stop()
    try:
        sign_review(case=case, reviewer=radiologist, finding=Prediction.objects.get(case=case).label)
    finally:
        stack.redis.start()
    result = DicomResult.objects.get()
    assert (result.status, result.attempts) == (DicomResult.Status.WAITING, 0)  # saved with the review

    assert outbox.requeue_unsent_results(older_than=0) == 1

    result_in(DicomResult.Status.SENT)
    assert len(of_class(pacs.instances(), SR_CLASS)) == 1


def test_a_pacs_that_never_answers_leaves_the_result_failed_on_the_case_page(client, staff, radiologist, clinic):
    pacs_node(clinic, port=free_port())  # nothing listens there
    case = predicted_dicom_case(client, staff, clinic)

    sign_review(case=case, reviewer=radiologist, finding=Prediction.objects.get(case=case).label)

    result = result_in(DicomResult.Status.FAILED, timeout=60)  # five tries: about 15 s of backoff
    assert result.attempts == 5
    assert ">failed<" in client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.DICOM_RESULT_FAILED)
    assert event.case == case and "did not accept the connection" in event.details["reason"]


def test_a_node_that_asks_for_suggestions_gets_a_preliminary_report_before_review(pacs, client, staff, clinic):
    pacs_node(clinic, port=pacs.dicom_port, wants_suggestions=True)
    case = predicted_dicom_case(client, staff, clinic)

    result_in(DicomResult.Status.SENT)

    (report,) = of_class(pacs.instances(), SR_CLASS)
    values = report_values(report)
    assert values["AI suggestion, not a diagnosis"] == Prediction.objects.get(case=case).label
    assert "Finding" not in values and report["CompletionFlag"] == "PARTIAL"
    assert all(found == [] for found in validator_complaints(pacs).values())


def test_the_case_page_downloads_the_report_uncached_and_outsiders_get_404(
        pacs, client, staff, radiologist, other_staff, clinic):
    pacs_node(clinic, port=pacs.dicom_port)
    case = predicted_dicom_case(client, staff, clinic)
    sign_review(case=case, reviewer=radiologist, finding=Prediction.objects.get(case=case).label)
    result = result_in(DicomResult.Status.SENT)
    url = reverse("cases:dicom_result", args=[case.public_id, result.pk, "report"])

    response = client.get(url)

    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    assert "no-store" in response["Cache-Control"]
    report = pydicom.dcmread(io.BytesIO(b"".join(response.streaming_content)))
    assert (report.SOPClassUID, report.StudyInstanceUID) == (SR_CLASS, STUDY)
    assert url in client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DICOM_RESULT_DOWNLOADED, case=case).count() == 1
    client.force_login(other_staff)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code in (404, 405)
