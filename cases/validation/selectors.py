"""THE rule of whether people may see a prediction, and the AI state of a clinic.

A prediction is exposed when it is the latest shown (served, not silent-trial) prediction of its case and its
clinic is live for the version that wrote it (`ClinicAIState`; no row is silent). Every place a suggestion can
be seen asks here: the staff and radiologist pages and the report (`reviews.selectors.result_for`), signing
(`reviews.services`), the worklist's columns and order (written by `classification.services` through
`new_suggestion`), the DICOM SR/SC (`dicom.outbox`), and the API, FHIR and webhooks
(`integrations.selectors`). Pausing a clinic pauses every version it was live for.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy

from classifier.labels import COVID
from classifier.models import ModelVersion

from ..classification.reasons import UNCERTAIN
from ..models import Case, ClinicAIState, Clinic, Prediction

State = ClinicAIState.State
VALIDATING = gettext_lazy("AI suggestions are being validated at this clinic: radiologists read its films without "
                          "them.")
NOTHING_TO_CONFIRM_WHILE_VALIDATING = gettext_lazy(
    "There is no AI suggestion to confirm: AI suggestions are being validated at this clinic: radiologists read its "
    "films without them.")


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


@dataclass(frozen=True)
class NewSuggestion:
    label: str  # at the clinic's own threshold if it chose one, else the model's
    threshold: float  # in force at the clinic: its own, or CXR_COVID_PRIORITY_THRESHOLD
    columns: dict  # the worklist columns (`Case.suggestion_fields`): empty unless the clinic is live
    exposed: bool  # the clinic is live for the version: `is_exposed` of the served prediction written with these


def new_suggestion(case: Case, version: ModelVersion, label: str, probabilities: dict,
                   gate_reason: str) -> NewSuggestion:
    """What a new served prediction of this case stores: its label and threshold, and the worklist columns.

    Call inside the write-back's transaction. It locks the clinic's live state row, so a pause that commits
    meanwhile waits for this write and then empties this case's columns too; without the lock a case written
    just after the pause read its cases would keep its suggestion in the worklist. A silent clinic's columns stay
    empty (its worklist orders by urgency and arrival only); the input gate's refusal is kept (it is about the
    image, and sends it to a human read either way), the model's "uncertain" is not (it is the model's output:
    it appears when the clinic goes live, `services.expose_columns`). The live row it reads (and locks) also
    answers `is_exposed` for the served prediction written in that transaction: no second read.
    """
    row = (ClinicAIState.objects.live().select_for_update()
           .filter(clinic_id=case.clinic_id, model_version_id=version.pk).first())
    own = row is not None and row.covid_threshold is not None
    threshold = row.covid_threshold if own else settings.CXR_COVID_PRIORITY_THRESHOLD
    label = label_at(label, probabilities, threshold) if own else label
    if row is None:
        columns = {"predicted_label": "", "covid_probability": None, "covid_priority": False,
                   "gate_reason": "" if gate_reason == UNCERTAIN else gate_reason}
    else:
        columns = Case.suggestion_fields(label, probabilities, gate_reason, threshold)
    return NewSuggestion(label, threshold, columns, exposed=row is not None)


def label_at(label: str, probabilities: dict, threshold: float) -> str:
    """The label at a clinic's own COVID-19 threshold: COVID-19 above it; otherwise the likelier other label."""
    if float(probabilities.get(COVID, 0.0)) > threshold:
        return COVID
    if label != COVID:
        return label
    return max((name for name in probabilities if name != COVID), key=lambda name: probabilities[name])


def validating_clinics(clinics):
    """Of these clinics (a queryset), those not live for the served version: their staff and radiologists
    see no suggestion of its new cases. No clinic when the served version cannot be told (a pinned file that is
    missing: a model fault, reported on /healthz; the worklist must still open)."""
    from classifier.artifacts import ModelFileError
    from classifier.registry import served_version  # imported here: it may register the committed model

    try:
        version = served_version()
    except ModelFileError:
        return clinics.none()
    return clinics.exclude(pk__in=ClinicAIState.objects.live().filter(model_version=version).values("clinic_id"))

