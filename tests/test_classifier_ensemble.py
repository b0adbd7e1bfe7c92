"""Seed ensembles: members trained on one split, logits averaged, exported as one LiteRT file.

Tiny members, one epoch, synthetic images: the same command (`train_classifier --seeds`) and
code as the served ensemble.
"""

import json
import shutil

import numpy as np
import pytest
from django.core.management import call_command

from classifier.calibration import softmax
from classifier.inference import Predictor
from classifier.training.data import load_arrays, read_split
from cxrsite.testing.images import chest_like_array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ensemble(synthetic_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble")
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(out), epochs=1, seeds=[3, 4])
    return out


def test_ensemble_members_are_trained_on_one_split_and_exported_as_one_file(ensemble):
    summary = json.loads((ensemble / "training.json").read_text())
    assert summary["seeds"] == [3, 4]
    assert [member["seed"] for member in summary["members"]] == [3, 4]
    assert read_split(ensemble / "seed3" / "split.csv") == read_split(ensemble / "seed4" / "split.csv")
    assert read_split(ensemble / "split.csv") == read_split(ensemble / "seed3" / "split.csv")
    assert summary["parameters"] == 2 * summary["member_parameters"]
    metadata = json.loads((ensemble / "tiny.tflite.json").read_text())
    assert metadata["name"].startswith("tiny-ensemble2-") and metadata["seeds"] == [3, 4]
    assert metadata["litert_max_abs_difference"] <= 1e-3
    assert (ensemble / "training_curves.png").read_bytes().startswith(b"\x89PNG")


def test_ensemble_probabilities_are_the_softmax_of_the_members_mean_logits(ensemble, synthetic_dataset):
    import keras

    from classifier.training.export import keras_logits

    x, _ = load_arrays(synthetic_dataset, read_split(ensemble / "split.csv")["test"], 32)
    member_logits = [keras_logits(keras.models.load_model(ensemble / f"seed{seed}" / "tiny.keras"), x)
                     for seed in (3, 4)]
    temperature = json.loads((ensemble / "tiny.tflite.json").read_text())["temperature"]
    expected = softmax((member_logits[0] + member_logits[1]) / 2, temperature)
    assert np.abs(Predictor(ensemble / "tiny.tflite").probabilities(x) - expected).max() <= 1e-3


def test_ensemble_heatmap_is_the_mean_of_its_members_class_maps(ensemble):
    x = (chest_like_array(32, seed=11).astype(np.float32) / 255)[np.newaxis, :, :, np.newaxis]
    member_maps = [Predictor(ensemble / f"seed{seed}" / "tiny.tflite").run(x)["cams"] for seed in (3, 4)]
    ensemble_maps = Predictor(ensemble / "tiny.tflite").run(x)["cams"]
    assert ensemble_maps.shape == member_maps[0].shape
    assert np.allclose(ensemble_maps, (member_maps[0] + member_maps[1]) / 2, atol=1e-5)
    result = Predictor(ensemble / "tiny.tflite").classify(chest_like_array(200, seed=11))
    assert result.heatmap.shape == (200, 200) and result.heatmap.max() > result.heatmap.min()


def test_ensemble_refuses_a_member_trained_on_another_split(ensemble, synthetic_dataset, tmp_path):
    from classifier.training.ensemble import train_ensemble

    shutil.copytree(ensemble / "seed3", tmp_path / "seed3")
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(tmp_path / "seed5"), epochs=1, seed=5)
    with pytest.raises(ValueError, match="different split"):
        train_ensemble(arch="tiny", data_dir=synthetic_dataset, out_dir=tmp_path, seeds=[3, 5], verbose=0)
