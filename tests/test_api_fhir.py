"""A signed case as FHIR R4B: the Bundle validates, carries the signed finding, the patient identifier, the
ImagingStudy reference and the AI suggestion as an Observation only where the AI result may be shown."""

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from cases.dicom.services import receive_instance
from cases.integrations import fhir, selectors
from cases.models import DicomNode
from cases.reviews.services import amend_review, sign_review
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array
from tests.factories import api_token, integration, predict, predicted_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(clinic):
    return api_token(integration("Hillside EMR", clinic))


def fhir_of(client, token, case):
    response = client.get(reverse("api:case_fhir", args=[case.public_id]), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)  # raises if it is not a valid R4B Bundle
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in bundle["entry"]}


def test_a_signed_case_is_a_valid_bundle_with_the_finding_the_patient_and_the_ai_observation(
        client, token, clinic, staff, radiologist):
    case, prediction = predicted_case(clinic, staff, "covid", mrn="FHIR-1")
    sign_review(case=case, reviewer=radiologist, finding="viral_pneumonia", note="Bilateral patchy opacities.")

    resources = fhir_of(client, token, case)

    report, observation = resources["DiagnosticReport"], resources["Observation"]
    assert report["status"] == "final"
    assert report["conclusionCode"][0]["coding"][0]["code"] == "viral_pneumonia"
    assert "Bilateral patchy opacities." in report["conclusion"]
    assert report["subject"]["identifier"]["value"] == "FHIR-1"
    assert report["subject"]["identifier"]["system"].endswith("/clinics/hillside/patients")
    assert report["imagingStudy"][0]["identifier"]["value"] == str(case.public_id)  # a PNG has no study UID
    assert report["result"][0]["reference"] == f"urn:uuid:{observation['id']}"
    assert observation["valueCodeableConcept"]["coding"][0]["code"] == "covid"
    probabilities = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in observation["component"]}
    assert probabilities == {"covid": 0.91, "normal": 0.05, "viral_pneumonia": 0.04}
    assert "not a diagnos" in observation["note"][0]["text"]


def test_an_amended_review_is_an_amended_report_with_the_new_finding(client, token, clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    amend_review(review=review, reviewer=radiologist, finding="normal", note="Second look.", reason="Misread.")

    report = fhir_of(client, token, case)["DiagnosticReport"]
    assert report["status"] == "amended"
    assert report["conclusionCode"][0]["coding"][0]["code"] == "normal"


def test_a_dicom_case_references_its_imaging_study_by_study_instance_uid(client, token, clinic, radiologist):
    unit = DicomNode.objects.create(name="X-ray room", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    data = dicom_bytes(chest_like_array(256), patient_id="P-77", extra={"StudyInstanceUID": "1.2.826.0.1.3680043.99"})
    case = receive_instance(node=unit, data=data, address="127.0.0.1").case
    predict(case, "normal")
    sign_review(case=case, reviewer=radiologist, finding="normal")

    report = fhir_of(client, token, case)["DiagnosticReport"]
    assert report["imagingStudy"][0]["identifier"] == {"system": "urn:dicom:uid",
                                                        "value": "urn:oid:1.2.826.0.1.3680043.99"}


def test_where_the_ai_result_may_not_be_shown_the_report_has_no_ai_observation(
        client, token, clinic, staff, radiologist, monkeypatch):
    case, _ = predicted_case(clinic, staff, "covid")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    monkeypatch.setattr(selectors, "exposed_prediction", lambda case: None)  # the one rule, as issue 26 may answer

    resources = fhir_of(client, token, case)
    assert set(resources) == {"DiagnosticReport"} and "result" not in resources["DiagnosticReport"]


def test_an_unsigned_case_has_no_report_yet(client, token, clinic, staff):
    case, _ = predicted_case(clinic, staff, "covid")
    response = client.get(reverse("api:case_fhir", args=[case.public_id]), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 404 and "no signed review" in response.json()["detail"]


def test_our_own_check_refuses_a_status_the_library_would_accept(clinic, staff, radiologist):
    case, prediction = predicted_case(clinic, staff, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    bundle = fhir.report_bundle(case=case, review=review, prediction=prediction, base="https://cxr.example.org")
    bundle["entry"][0]["resource"]["status"] = "signed-off"
    Bundle.model_validate(bundle)  # fhir.resources takes any status string...
    with pytest.raises(fhir.InvalidCode):
        fhir.check_codes(bundle)  # ...ours does not
    bundle["entry"][0]["resource"]["status"] = "final"
    bundle["entry"][1]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = "pneumothorax"
    with pytest.raises(fhir.InvalidCode):
        fhir.check_codes(bundle)
