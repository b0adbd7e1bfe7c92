"""Model versions: the committed model registers itself, and administrators switch the served one."""

import shutil

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.models import AuditEvent
from classifier.artifacts import COMMITTED_MODEL, file_sha256
from classifier.inference import classify
from classifier.models import ModelVersion
from classifier.registry import active_version, model_file, register_model, served_version
from cxrsite.testing.images import chest_like_array
from tests.factories import make_case, trial_predict
from tests.test_trial_comparison import shown_evidence


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    """Another model file: a tiny network, exported in a subprocess (TensorFlow stays out of here)."""
    from cxrsite.testing.stack import tiny_model

    return tiny_model(tmp_path_factory.mktemp("second_model"))


def test_a_fresh_install_registers_and_activates_the_committed_model(db, settings):
    settings.CXR_MODEL_PATH = ""
    version = active_version()
    assert version.active
    assert version.file == "classifier/trained/own.tflite"
    assert version.sha256 == file_sha256(COMMITTED_MODEL)
    assert version.architecture == "own"
    assert version.metrics["accuracy"] > 0.9  # the test-split figures from metrics.json
    assert "split by patient group" in version.training_data
    assert active_version() == version
    assert ModelVersion.objects.count() == 1


def test_register_model_command_registers_a_file_once(db, tmp_path, capsys):
    copy = tmp_path / "copy.tflite"
    shutil.copy(COMMITTED_MODEL, copy)
    shutil.copy(f"{COMMITTED_MODEL}.json", f"{copy}.json")  # registration reads the sidecar (issue 33)
    call_command("register_model", str(copy))
    call_command("register_model", str(copy), activate=True)
    version = ModelVersion.objects.get()
    assert version.sha256 == file_sha256(COMMITTED_MODEL)
    assert version.active
    assert "Registered" in capsys.readouterr().out


def test_administrator_activates_a_version_in_the_admin_and_it_is_audited(client, administrator, second_model,
                                                                           clinic, staff):
    committed = register_model(COMMITTED_MODEL, activate=True)
    tiny = register_model(second_model)
    trial_predict(make_case(clinic, staff), "normal", version=tiny)  # it ran on the workers (issue 33)
    client.force_login(administrator)
    response = client.post(reverse("admin:classifier_modelversion_changelist"),
                           {"action": "activate", "_selected_action": [tiny.pk]}, follow=True)
    assert response.status_code == 200
    assert f"Activate {tiny.name}?" in response.content.decode()  # a confirmation first (issue 16)
    assert list(ModelVersion.objects.filter(active=True)) == [committed]
    response = client.post(reverse("audit:confirm_activation", args=[tiny.pk]),
                           {"evidence": shown_evidence(response)}, follow=True)
    assert response.status_code == 200
    assert "is now the active model" in response.content.decode()
    assert list(ModelVersion.objects.filter(active=True)) == [tiny]
    event = AuditEvent.objects.filter(action="model_activated").first()  # the latest
    assert event.actor == administrator
    assert event.details["model_version"]["name"] == tiny.name
    assert event.details["previous"]["name"] == committed.name


def test_workers_serve_the_version_an_administrator_activated(db, settings, second_model):
    settings.CXR_MODEL_PATH = ""  # not pinned: the active version decides
    pixels = chest_like_array(256)
    register_model(COMMITTED_MODEL, activate=True)
    assert classify(pixels, model_path=model_file(served_version())).model_sha256 == file_sha256(COMMITTED_MODEL)
    register_model(second_model, activate=True)
    result = classify(pixels, model_path=model_file(served_version()))
    assert result.model_sha256 == file_sha256(second_model)
    assert result.architecture == "tiny"
    assert result.heatmap.shape == pixels.shape and np.ptp(result.heatmap) > 0


def test_a_pinned_model_file_is_served_and_registered_once(db, settings, second_model):
    register_model(COMMITTED_MODEL, activate=True)
    settings.CXR_MODEL_PATH = str(second_model)
    first, again = served_version(), served_version()
    assert first == again and first.sha256 == file_sha256(second_model)
    assert not first.active  # pinning serves a file; it does not change the admin's choice
    assert ModelVersion.objects.filter(sha256=first.sha256).count() == 1
