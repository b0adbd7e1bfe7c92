"""THE rule of whether people may see a prediction, and the AI state of a clinic.

A prediction is exposed when it is the latest shown (served, not silent-trial) prediction of its case and its
clinic is live for the version that wrote it (`ClinicAIState`; no row is silent). Every place a suggestion can
be seen asks here: the staff and radiologist pages and the report (`reviews.selectors.result_for`), signing
(`reviews.services`), the worklist's columns and order (written by `classification.services` through
`suggestion_columns`), the DICOM SR/SC (`dicom.outbox`), and the API, FHIR and webhooks
(`integrations.selectors`). Pausing a clinic pauses every version it was live for.
"""

from django.conf import settings

from classifier.labels import COVID
from classifier.models import ModelVersion

from ..models import Case, ClinicAIState, Clinic, Prediction

State = ClinicAIState.State
VALIDATING = "AI suggestions are being validated at this clinic: radiologists read its films without them."


def latest_prediction(case: Case) -> Prediction | None:
    """The latest shown prediction of the case, whether or not people may see it."""
    return case.predictions.shown().select_related("model_version").newest_first().first()


def state_row(clinic_id: int, version_id: int) -> ClinicAIState | None:
    return ClinicAIState.objects.filter(clinic_id=clinic_id, model_version_id=version_id).first()


def ai_state(clinic: Clinic, version: ModelVersion) -> str:
    row = state_row(clinic.pk, version.pk)
    return row.state if row is not None else State.SILENT


def is_live(clinic_id: int, version_id: int) -> bool:
    return ClinicAIState.objects.live().filter(clinic_id=clinic_id, model_version_id=version_id).exists()


def is_exposed(prediction: Prediction) -> bool:
    return not prediction.trial and is_live(prediction.case.clinic_id, prediction.model_version_id)


def exposed_prediction(case: Case) -> Prediction | None:
    """The prediction people may see of this case, or None: no suggestion, no heatmap, no AI result."""
    latest = latest_prediction(case)
    return latest if latest is not None and is_exposed(latest) else None


def threshold_in_force(clinic_id: int, version_id: int) -> tuple[float, bool]:
    """The COVID-19 threshold for a new case of the clinic, and whether it is the clinic's own (chosen at
    go-live for this version); the global CXR_COVID_PRIORITY_THRESHOLD otherwise."""
    row = ClinicAIState.objects.live().filter(clinic_id=clinic_id, model_version_id=version_id).first()
    if row is None or row.covid_threshold is None:
        return settings.CXR_COVID_PRIORITY_THRESHOLD, False
    return row.covid_threshold, True


def label_at(label: str, probabilities: dict, threshold: float) -> str:
    """The label at a clinic's own COVID-19 threshold: COVID-19 above it; otherwise the likelier other label."""
    if float(probabilities.get(COVID, 0.0)) > threshold:
        return COVID
    if label != COVID:
        return label
    return max((name for name in probabilities if name != COVID), key=lambda name: probabilities[name])


def suggestion_columns(case: Case, version: ModelVersion, label: str, probabilities: dict, gate_reason: str,
                       threshold: float) -> dict:
    """The worklist columns for a new served prediction (`Case.suggestion_fields`), empty unless the clinic is
    live for the version: a silent clinic's worklist orders by arrival and the urgency flag only. The input
    gate's refusal is kept: it is about the image, and sends it to a human read either way."""
    if not is_live(case.clinic_id, version.pk):
        return {"predicted_label": "", "covid_probability": None, "covid_priority": False, "gate_reason": gate_reason}
    return Case.suggestion_fields(label, probabilities, gate_reason, threshold)


def validating_clinics(clinics):
    """Of these clinics (a queryset), those not live for the served version: their staff and radiologists
    see no suggestion of its new cases."""
    from classifier.registry import served_version  # imported here: it may register the committed model

    return clinics.exclude(pk__in=ClinicAIState.objects.live().filter(model_version=served_version())
                           .values("clinic_id"))

