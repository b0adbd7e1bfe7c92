"""A signed case as FHIR: a Bundle with the DiagnosticReport (the radiologist's finding) and, where the
AI result may be shown (`exposed_prediction`), an Observation for the AI suggestion.

Built and validated with fhir.resources' R4B models: that package ships R5 and R4B, not R4, and R4B
has R4's DiagnosticReport, Observation and Bundle. Its models take any `status` string, so the coded
values are checked here against their value sets before anything is sent.

The patient is a logical reference by identifier (the clinic's patient number, in a system per
clinic): no Patient resource, no name. The film is referenced as the ImagingStudy of its DICOM
Study Instance UID, or, for a PNG or JPEG, by the case's id. The findings are coded in our own code
system (the labels of classifier/labels.py); no mapping to SNOMED CT has been reviewed yet.
"""

import io
import uuid

from fhir.resources.R4B.bundle import Bundle

from classifier.labels import FINDING_NAMES, LABELS

from .. import storage
from ..models import Case, Prediction, Review
from .serializers import DISCLAIMER

# Value sets of the coded elements we fill (FHIR R4: Bundle.type, DiagnosticReport.status, Observation.status).
BUNDLE_TYPES = {"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
                "searchset", "collection"}
REPORT_STATUSES = {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled",
                   "entered-in-error", "unknown"}
OBSERVATION_STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error",
                        "unknown"}
LOINC = "http://loinc.org"
IMAGING_STUDY_REPORT = "18748-4"  # LOINC: Diagnostic imaging study
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
UCUM = "http://unitsofmeasure.org"


class InvalidCode(ValueError):
    """A coded value outside its value set: a bug of ours, never sent."""


def code_systems(base: str) -> dict[str, str]:
    return {"finding": f"{base}/fhir/CodeSystem/finding", "observation": f"{base}/fhir/CodeSystem/observation",
            "case": f"{base}/cases"}


def report_bundle(*, case: Case, review: Review, prediction: Prediction | None, base: str) -> dict:
    """The validated Bundle (as JSON data) of a signed case; `prediction` only where it may be shown."""
    systems = code_systems(base)
    subject = {"identifier": {"system": f"{base}/clinics/{case.clinic.code}/patients", "value": case.patient.mrn}}
    report = {
        "resourceType": "DiagnosticReport", "id": str(case.public_id),
        "status": "amended" if review.amends_id else "final",
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "RAD", "display": "Radiology"}]}],
        "code": {"coding": [{"system": LOINC, "code": IMAGING_STUDY_REPORT, "display": "Diagnostic imaging study"}],
                 "text": f"Chest X-ray ({case.get_view_display()})"},
        "subject": subject,
        "effectiveDateTime": case.created.isoformat(),
        "issued": review.signed_at.isoformat(),
        "resultsInterpreter": [{"display": review.reviewer.get_full_name() or review.reviewer.get_username()}],
        "imagingStudy": [{"identifier": study_identifier(case, systems)}],
        "conclusion": "\n".join(filter(None, [review.get_finding_display(), review.note])),
        "conclusionCode": [{"coding": [{"system": systems["finding"], "code": review.finding,
                                        "display": review.get_finding_display()}]}],
    }
    entries = [report]
    if prediction is not None and prediction.gives_suggestion:
        observation = ai_observation(case=case, prediction=prediction, subject=subject, systems=systems)
        report["result"] = [{"reference": f"urn:uuid:{observation['id']}", "display": "AI suggestion"}]
        entries.append(observation)
    # urn:uuid full URLs: the resources live in this Bundle only (no FHIR server serves them one by one).
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": review.signed_at.isoformat(),
              "entry": [{"fullUrl": f"urn:uuid:{entry['id']}", "resource": entry} for entry in entries]}
    check_codes(bundle)
    return Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)


def ai_observation(*, case: Case, prediction: Prediction, subject: dict, systems: dict) -> dict:
    return {
        "resourceType": "Observation", "id": str(uuid.uuid5(case.public_id, f"prediction-{prediction.pk}")),
        "status": "final",
        "code": {"coding": [{"system": systems["observation"], "code": "ai-suggestion",
                             "display": "AI suggestion (research software, not a diagnosis)"}]},
        "subject": subject,
        "effectiveDateTime": prediction.created.isoformat(),
        "device": {"display": f"CXR Triage model {prediction.model_version.name}"},
        "valueCodeableConcept": {"coding": [{"system": systems["finding"], "code": prediction.label,
                                             "display": FINDING_NAMES[prediction.label]}]},
        "component": [{
            "code": {"coding": [{"system": systems["finding"], "code": label, "display": FINDING_NAMES[label]}],
                     "text": f"Probability of {FINDING_NAMES[label]}"},
            "valueQuantity": {"value": round(float(prediction.probabilities.get(label, 0.0)), 4), "unit": "probability",
                              "system": UCUM, "code": "1"},
        } for label in LABELS],
        "note": [{"text": DISCLAIMER}],
    }


def study_identifier(case: Case, systems: dict) -> dict:
    """The DICOM Study Instance UID of a DICOM original; our case id for a PNG or JPEG."""
    if case.image_format == "DICOM":
        import pydicom  # slow to import; only a DICOM case needs it

        with storage.open_file(case.image_name) as original:
            study = pydicom.dcmread(io.BytesIO(original.read()), stop_before_pixels=True).get("StudyInstanceUID")
        if study:
            return {"system": "urn:dicom:uid", "value": f"urn:oid:{study}"}
    return {"system": systems["case"], "value": str(case.public_id)}


def check_codes(bundle: dict) -> None:
    """Every status and finding code in its value set (the library would take any string)."""
    if bundle["type"] not in BUNDLE_TYPES:
        raise InvalidCode(f"Bundle.type {bundle['type']!r}")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        statuses = REPORT_STATUSES if resource["resourceType"] == "DiagnosticReport" else OBSERVATION_STATUSES
        if resource["status"] not in statuses:
            raise InvalidCode(f"{resource['resourceType']}.status {resource['status']!r}")
        concepts = resource.get("conclusionCode", []) + [resource.get("valueCodeableConcept", {"coding": []})]
        for coding in (c for concept in concepts for c in concept["coding"]):
            if coding["system"].endswith("/CodeSystem/finding") and coding["code"] not in FINDING_NAMES:
                raise InvalidCode(f"finding {coding['code']!r}")
