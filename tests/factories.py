"""Test data made directly in the database: cases, predictions, model versions (served, on trial)."""

from datetime import timedelta
from types import SimpleNamespace

import numpy as np
from django.utils import timezone

from cases import storage
from cases.audit.actors import Actor
from cases.classification.images import class_map_png
from cases.models import Case, Clinic, Patient, Prediction
from classifier.artifacts import COMMITTED_MODEL, read_metadata
from classifier.models import ModelVersion
from classifier.operating_point import covid_word
from cxrsite.testing.images import chest_like_array, encode

PROBABILITIES = {
    "covid": {"covid": 0.91, "normal": 0.05, "viral_pneumonia": 0.04},
    "normal": {"covid": 0.03, "normal": 0.90, "viral_pneumonia": 0.07},
    "viral_pneumonia": {"covid": 0.10, "normal": 0.15, "viral_pneumonia": 0.75},
}


# The words staff read, by the committed model's bands, as the worker writes them.
COVID_WORDS = read_metadata(COMMITTED_MODEL).get("covid_words")


def model_version(name: str = "tiny-test-model") -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        name=name, defaults={"architecture": "tiny", "file": "tiny.tflite", "sha256": "0" * 64}
    )
    return version


def make_case(clinic: Clinic, submitted_by, *, mrn: str = "MRN-1", urgent: bool = False, age: timedelta | None = None,
              status: str = Case.Status.SUBMITTED, symptoms: str = "cough, fever") -> Case:
    patient, _ = Patient.objects.get_or_create(clinic=clinic, mrn=mrn, defaults={"birth_year": 1970, "sex": "F"})
    image = storage.save_bytes(encode(chest_like_array(256)), ".png")
    case = Case.objects.create(
        clinic=clinic, patient=patient, submitted_by=submitted_by, urgent=urgent, status=status, symptoms=symptoms,
        spo2=93, image_name=image, display_name=image, image_sha256="a" * 64,
        image_format="PNG", image_width=256, image_height=256, original_filename="chest.png",
    )
    if age is not None:
        Case.objects.filter(pk=case.pk).update(created=timezone.now() - age)
        case.refresh_from_db()
    return case


def predict(case: Case, label: str = "covid", probabilities: dict | None = None, *, version: ModelVersion | None = None
            ) -> Prediction:
    """Write a prediction and move the case to 'predicted', as the worker's write-back does."""
    heatmap = storage.save_bytes(class_map_png(class_map()), ".png")
    prediction = Prediction.objects.create(
        case=case, model_version=version or model_version(), label=label,
        probabilities=probabilities or PROBABILITIES[label], heatmap_name=heatmap, inference_ms=3.0,
        covid_word=covid_word((probabilities or PROBABILITIES[label])["covid"], COVID_WORDS),
    )
    Case.objects.filter(pk=case.pk).update(status=Case.Status.PREDICTED,
                                           **Case.suggestion_fields(label, prediction.probabilities))
    case.refresh_from_db()
    return prediction


def class_map(size: int = 10) -> np.ndarray:
    """A class map as the worker stores it (the network's resolution, 0..255): hottest in the right lung."""
    y, x = np.mgrid[0:1:size * 1j, 0:1:size * 1j]
    heat = np.exp(-(((x - 0.7) / 0.25) ** 2 + ((y - 0.5) / 0.3) ** 2))
    return np.rint(255 * (heat - heat.min()) / (heat.max() - heat.min())).astype(np.uint8)


def predicted_case(clinic: Clinic, submitted_by, label: str = "covid", **kwargs) -> tuple[Case, Prediction]:
    case = make_case(clinic, submitted_by, **kwargs)
    return case, predict(case, label)


def trial_predict(case: Case, label: str, *, version: ModelVersion, probabilities: dict | None = None) -> Prediction:
    """A silent-trial prediction, as the trial task writes it: the case itself is not touched."""
    return Prediction.objects.create(case=case, model_version=version, label=label, trial=True,
                                     probabilities=probabilities or PROBABILITIES[label], inference_ms=3.0)


def served_model_version(name: str = "served-v1") -> ModelVersion:
    """A registered version made the active one (what `served_version()` answers without a pinned file)."""
    version = model_version(name)
    ModelVersion.objects.exclude(pk=version.pk).update(active=False)
    ModelVersion.objects.filter(pk=version.pk).update(active=True)
    version.refresh_from_db()
    return version


def trial_version(name: str = "shadow-v2", **fields) -> ModelVersion:
    version = model_version(name)
    ModelVersion.objects.filter(pk=version.pk).update(on_trial=True, **fields)
    version.refresh_from_db()
    return version


def integration(name: str, *clinics: Clinic, **fields) -> "Integration":
    """An outside system scoped to these clinics (reads results unless told otherwise)."""
    from cases.models import Integration

    made = Integration.objects.create(name=name, **fields)
    made.clinics.set(clinics)
    return made


def api_token(integration) -> str:
    """A new token of the integration, as an administrator issues it in the admin."""
    from cases.integrations.services import issue_token

    return issue_token(integration=integration, actor=Actor.system())


def classified(case: Case, version, probabilities: dict, *, uncertain: bool = False) -> Case:
    """The worker's write-back (`write_prediction`) of a finished classification, gate passed (`uncertain`: in
    the model's uncertain band)."""
    from cases.classification.services import write_prediction

    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLASSIFYING)
    result = SimpleNamespace(label=max(probabilities, key=probabilities.get), probabilities=probabilities,
                             uncertain=uncertain, covid_word=covid_word(probabilities["covid"], COVID_WORDS),
                             inference_ms=3.0, heatmap=None)
    verdict = SimpleNamespace(passed=True, reason="", scores={}, version="gate-test")
    write_prediction(case, version, result, verdict, encode(chest_like_array(64, seed=2)), queue_wait_ms=1.0,
                     worker_host="test", actor=Actor.worker("test"))
    case.refresh_from_db()
    return case


def refused_case(clinic: Clinic, submitted_by, *, reason: str = "not_radiograph", **kwargs) -> tuple[Case, Prediction]:
    """A case whose film the input gate refused: a prediction row with no suggestion, awaiting a human read."""
    case, prediction = predicted_case(clinic, submitted_by, "normal", **kwargs)
    Prediction.objects.filter(pk=prediction.pk).update(gate_passed=False, gate_reason=reason)
    Case.objects.filter(pk=case.pk).update(**Case.suggestion_fields("normal", {}, reason))
    case.refresh_from_db()
    prediction.refresh_from_db()
    return case, prediction
