"""When the served version meets a case it already scored on silent trial, its trial row becomes the
shown prediction: complete (heatmap, input gate result), audited, and sent to a PACS that asked for
AI suggestions, like any served prediction (issue 33, finding 6: it used to become one with no
heatmap, no gate result, no `prediction_written` event and no suggestion)."""

import pytest

from cases import storage
from cases.classification.services import classify_case
from cases.models import AuditEvent, Case, DicomNode, DicomResult, Prediction
from classifier.artifacts import COMMITTED_MODEL, stored_path
from classifier.models import ModelVersion
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array
from cxrsite.testing.stack import permissive_gate
from tests.factories import make_case, trial_predict


@pytest.fixture
def scored_on_trial(clinic, staff, settings, tmp_path):
    """A DICOM case waiting for the classifier, already scored by the version now served while that
    version was on trial (the committed model under its record, so it runs here for real)."""
    settings.CXR_MODEL_PATH, settings.CXR_GATE_PATH = "", str(permissive_gate(tmp_path))
    version = ModelVersion.objects.create(name="was-on-trial", architecture="own", file=stored_path(COMMITTED_MODEL),
                                          sha256="3" * 64, active=True)
    DicomNode.objects.create(name="Hillside PACS", ae_title="PACS", host="127.0.0.1", port=11113, clinic=clinic,
                             may_send=False, receives_results=True, wants_suggestions=True)
    case = make_case(clinic, staff, mrn="SEEN-ON-TRIAL", status=Case.Status.QUEUED)
    # A real DICOM original (the models read a DICOM's header to choose its pixels: tests/test_jpeg2000_films.py).
    original = storage.save_bytes(dicom_bytes(chest_like_array(256)), ".dcm")
    Case.objects.filter(pk=case.pk).update(image_format="DICOM", image_name=original)
    trial_row = trial_predict(case, "covid", version=version)
    Prediction.objects.filter(pk=trial_row.pk).update(gate_passed=None, gate_version="")  # as trials wrote them
    return case, version, trial_row


def test_a_trial_row_becomes_a_complete_audited_served_prediction(scored_on_trial):
    case, version, trial_row = scored_on_trial
    assert classify_case(case.pk, worker_host="worker-1") == "predicted"

    [prediction] = Prediction.objects.filter(case=case)
    assert prediction.pk == trial_row.pk and not prediction.trial  # one row per case and version
    assert Prediction.objects.shown().get(case=case) == prediction
    assert prediction.heatmap_name and storage.path_of(prediction.heatmap_name).exists()
    assert prediction.gate_passed is True and prediction.gate_version.endswith("-permissive-for-tests")
    assert prediction.worker_host == "worker-1" and prediction.queue_wait_ms is not None
    assert prediction.created > trial_row.created  # shown from now on
    case.refresh_from_db()
    assert (case.status, case.predicted_label) == (Case.Status.PREDICTED, prediction.label)
    event = AuditEvent.objects.get(case=case, action=AuditEvent.Action.PREDICTION_WRITTEN)
    assert event.details["prediction"] == prediction.pk and event.details["from_trial"] is True
    assert event.details["gate"]["passed"] is True and event.details["model_version"] == "was-on-trial"
    suggestion = DicomResult.objects.get(case=case)
    assert (suggestion.key, suggestion.prediction) == (f"suggestion-{prediction.pk}", prediction)


def test_a_second_delivery_after_that_writes_nothing_more(scored_on_trial):
    case, version, _ = scored_on_trial
    classify_case(case.pk, worker_host="worker-1")
    Case.objects.filter(pk=case.pk).update(status=Case.Status.QUEUED)  # delivered again, as after a reaper round
    assert classify_case(case.pk, worker_host="worker-2") == "predicted"
    assert Prediction.objects.filter(case=case).count() == 1
    assert AuditEvent.objects.filter(case=case, action=AuditEvent.Action.PREDICTION_WRITTEN).count() == 1
    assert DicomResult.objects.filter(case=case).count() == 1
