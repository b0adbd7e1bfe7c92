"""Registering a model version checks the file first: it loads with LiteRT, matches its sidecar and
gives sane probabilities on test films. A file that does not is refused with the reason, and
nothing is registered (issue 33: 3 MB of random bytes used to register, go on trial and go live)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from classifier.artifacts import COMMITTED_MODEL, ModelFileError, file_sha256
from classifier.models import ModelVersion
from classifier.registry import register_model
from cxrsite.testing.stack import BASE_DIR

SIDECAR = json.loads(COMMITTED_MODEL.with_name(COMMITTED_MODEL.name + ".json").read_text())


def model_copy(folder, *, sidecar: dict | None = SIDECAR, name: str = "candidate.tflite"):
    """The committed model under another name, with the sidecar given (None: no sidecar)."""
    path = folder / name
    shutil.copy(COMMITTED_MODEL, path)
    if sidecar is not None:
        (folder / f"{name}.json").write_text(json.dumps(sidecar))
    return path


def refused(path) -> str:
    """The reason `register_model` gives on the command line, after checking nothing was registered."""
    with pytest.raises(CommandError) as refusal:
        call_command("register_model", str(path))
    assert not ModelVersion.objects.exists()
    return str(refusal.value)


def test_random_bytes_with_a_sidecar_are_refused_because_litert_cannot_load_them(db, tmp_path):
    path = tmp_path / "random.tflite"
    path.write_bytes(os.urandom(3_000_000))
    (tmp_path / "random.tflite.json").write_text(json.dumps({"name": "random", "architecture": "own"}))
    assert "LiteRT cannot load it: it is not a valid LiteRT model file" in refused(path)


def test_a_sidecar_whose_input_size_is_not_the_models_is_refused(db, tmp_path):
    path = model_copy(tmp_path, sidecar={**SIDECAR, "input_size": 224})
    assert "its sidecar gives the input size 224 px, but the model takes 160 px" in refused(path)


def test_a_sidecar_whose_labels_are_not_the_classifiers_is_refused(db, tmp_path):
    path = model_copy(tmp_path, sidecar={**SIDECAR, "labels": ["normal", "covid", "viral_pneumonia"]})
    reason = refused(path)
    assert "its sidecar lists the labels normal, covid, viral_pneumonia" in reason
    assert "covid, normal, viral_pneumonia, in this order" in reason


def test_a_file_without_its_sidecar_or_with_a_broken_one_is_refused(db, tmp_path):
    assert "there is no sidecar candidate.tflite.json beside it" in refused(model_copy(tmp_path, sidecar=None))
    (tmp_path / "candidate.tflite.json").write_text("{not json")
    assert "its sidecar candidate.tflite.json is not valid JSON" in refused(tmp_path / "candidate.tflite")
    (tmp_path / "candidate.tflite.json").write_text(json.dumps({"architecture": "own"}))
    assert "gives no name" in refused(tmp_path / "candidate.tflite")


def test_metrics_beside_the_file_that_describe_another_model_are_refused(db, tmp_path):
    path = model_copy(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.99, "model": {"sha256": "f" * 64}}))
    assert "the metrics.json beside it describes another model file" in refused(path)


def test_a_sound_file_is_registered_with_its_own_test_figures(db, tmp_path):
    path = model_copy(tmp_path)
    metrics = {"accuracy": 0.941, "model": {"name": SIDECAR["name"], "sha256": file_sha256(path)}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    version = register_model(path)
    assert (version.name, version.architecture, version.metrics["accuracy"]) == (SIDECAR["name"], "own", 0.941)


BROKEN_SUM = """
import json, sys, keras, tensorflow as tf
from classifier.training.networks import build_tiny
keras.utils.set_random_seed(0)
model = build_tiny(32)
head = keras.Model(model.input, model.get_layer("logits").output)

@tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 1], tf.float32, name="pixels")])
def serve(pixels):
    return {"probabilities": tf.nn.sigmoid(head(pixels, training=False))}  # not a distribution

archive = keras.export.ExportArchive()
archive.track(head)
archive.add_endpoint(name="serving_default", fn=serve)
archive.write_out(sys.argv[1] + ".saved", verbose=False)
converter = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1] + ".saved", signature_keys=["serving_default"])
open(sys.argv[1], "wb").write(converter.convert())
open(sys.argv[1] + ".json", "w").write(json.dumps({"name": "unnormalised", "architecture": "tiny", "input_size": 32}))
"""


@pytest.mark.slow
def test_a_loadable_model_whose_probabilities_do_not_sum_to_one_is_refused(db, tmp_path):
    path = tmp_path / "unnormalised.tflite"
    subprocess.run([sys.executable, "-c", BROKEN_SUM, str(path)], cwd=BASE_DIR, check=True, capture_output=True)
    with pytest.raises(ModelFileError, match=r"its probabilities for test film 1 add up to \d\.\d{4}, not 1"):
        register_model(path)
    assert not ModelVersion.objects.exists()
