"""Training, export and evaluation end to end: a tiny network, one epoch, synthetic images.

The same commands and code as the real model (train_classifier, evaluate_classifier); only
the architecture ("tiny") and the data are small.
"""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from classifier.imaging import decode_image
from classifier.inference import Predictor
from classifier.labels import LABELS
from classifier.preprocessing import load_grayscale, to_model_input
from classifier.training.data import load_arrays, read_split
from cxrsite.testing.images import chest_like_array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(synthetic_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(out), epochs=1, seed=3)
    return out


def test_training_saves_model_split_curves_and_calibration(trained):
    for name in ("tiny.keras", "tiny.tflite", "tiny.tflite.json", "split.csv", "training_curves.png"):
        assert (trained / name).stat().st_size > 0, name
    summary = json.loads((trained / "training.json").read_text())
    assert summary["architecture"] == "tiny"
    assert summary["epochs_run"] == 1
    assert summary["temperature"] > 0
    assert 0 <= summary["val_ece_after"] <= 1 and 0 <= summary["val_ece_before"] <= 1
    metadata = json.loads((trained / "tiny.tflite.json").read_text())
    assert metadata["labels"] == list(LABELS)
    assert metadata["litert_max_abs_difference"] <= 1e-3
    assert metadata["decision_weights"][1:] == [1.0, 1.0] and metadata["decision_weights"][0] >= 1.0
    assert summary["val_covid_sensitivity"] >= min(0.98, summary["val_covid_sensitivity_argmax"])


def test_saved_split_keeps_each_patient_in_one_split(trained):
    split = read_split(trained / "split.csv")
    groups = {name: {r.group for r in records} for name, records in split.items()}
    assert all(groups.values())
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"] or groups["val"] & groups["test"])
    assert sum(len(records) for records in split.values()) == 72


def test_litert_probabilities_are_within_a_thousandth_of_keras(trained, synthetic_dataset):
    import keras

    from classifier.calibration import softmax
    from classifier.training.export import keras_logits

    records = sum(read_split(trained / "split.csv").values(), [])
    x, _ = load_arrays(synthetic_dataset, records, 32)
    temperature = json.loads((trained / "tiny.tflite.json").read_text())["temperature"]
    expected = softmax(keras_logits(keras.models.load_model(trained / "tiny.keras"), x), temperature)
    assert np.abs(Predictor(trained / "tiny.tflite").probabilities(x) - expected).max() <= 1e-3


def test_served_input_equals_trained_input_for_the_same_file(trained, synthetic_dataset):
    record = read_split(trained / "split.csv")["test"][0]
    trained_input, _ = load_arrays(synthetic_dataset, [record], 32)
    upload = (synthetic_dataset / record.file).read_bytes()
    served_pixels = decode_image(upload).pixels  # what intake stores and the worker reads back
    assert np.array_equal(to_model_input(served_pixels, 32), trained_input[0])
    assert np.array_equal(load_grayscale(upload), load_grayscale(synthetic_dataset / record.file))
    predictor = Predictor(trained / "tiny.tflite")
    served = predictor.classify(served_pixels)
    probabilities, predicted = predictor.predict(trained_input)
    assert [served.probabilities[label] for label in LABELS] == probabilities[0].tolist()
    assert served.label == LABELS[predicted[0]]


def test_evaluate_classifier_reports_the_documented_json(trained, synthetic_dataset, tmp_path, capsys):
    call_command("evaluate_classifier", data=str(synthetic_dataset), model=str(trained / "tiny.tflite"), json=True,
                 plots=str(tmp_path))
    metrics = json.loads(capsys.readouterr().out)
    assert {"n", "accuracy", "macro_f1", "macro_auc", "per_class", "confusion_matrix", "ece", "per_source",
            "model"} <= set(metrics)
    assert metrics["n"] == 72
    assert set(metrics["per_class"]) == set(LABELS)
    assert set(metrics["per_class"]["covid"]) == {"n", "sensitivity", "specificity", "precision", "auc"}
    assert np.array(metrics["confusion_matrix"]["matrix"]).sum() == 72
    assert set(metrics["per_source"]) == {f"synthetic_{label}" for label in LABELS}
    assert metrics["model"]["name"].startswith("tiny-")
    assert len(metrics["model"]["sha256"]) == 64
    # Issue 18's shortcut evidence (classifier/training/shortcut_checks.py).
    assert {"within_source_auc", "normals_by_view", "normals_by_age_band", "heatmap_mass", "marker_test"} <= set(metrics)
    assert set(metrics["normals_by_view"]) == {"unknown"}  # the synthetic manifest has no view column
    assert metrics["normals_by_view"]["unknown"]["n"] == metrics["per_class"]["normal"]["n"]
    assert 0 <= metrics["heatmap_mass"]["border_share"] <= 1 and metrics["heatmap_mass"]["n"] == 72
    assert metrics["marker_test"]["n"] == 72 and metrics["marker_test"]["mean_abs_change_covid"] >= 0
    assert set(metrics["marker_test"]["mean_change_covid_by_label"]) == set(LABELS)
    for plot in ("confusion_matrix.png", "roc.png", "reliability.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG"), plot


def test_evaluate_classifier_prints_the_shortcut_checks_on_a_folder_of_one_class(trained, tmp_path):
    from cxrsite.testing.images import write_synthetic_dataset

    (tmp_path / "cxr").mkdir()
    folder = write_synthetic_dataset(tmp_path / "cxr", per_class=4)
    manifest = (folder / "manifest.csv").read_text().splitlines()
    (folder / "manifest.csv").write_text("\n".join([manifest[0]] + [line for line in manifest if ",normal," in line]))
    output = StringIO()  # one class: AUCs are undefined and print as "-"
    call_command("evaluate_classifier", data=str(folder), model=str(trained / "tiny.tflite"), stdout=output)
    text = output.getvalue()
    assert "macro AUC -" in text and "normals, view unknown" in text
    assert "marker test: COVID-19 probability moves" in text and "heatmap mass in the border" in text


def test_evaluation_lists_each_misclassified_film_by_file(trained, synthetic_dataset, capsys):
    call_command("evaluate_classifier", data=str(synthetic_dataset), model=str(trained / "tiny.tflite"), json=True)
    metrics = json.loads(capsys.readouterr().out)
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    wrong = metrics["misclassified"]
    assert len(wrong) == matrix.sum() - np.trace(matrix)
    for label_index, label in enumerate(LABELS):  # each off-diagonal cell is that many listed films
        for predicted_index, predicted in enumerate(LABELS):
            if label_index != predicted_index:
                listed = [w for w in wrong if w["label"] == label and w["predicted"] == predicted]
                assert len(listed) == matrix[label_index, predicted_index]
    for film in wrong:
        assert (synthetic_dataset / film["file"]).is_file()
        assert film["file"].startswith(film["label"] + "/")  # the class folder is the true label
        assert max(film["probabilities"], key=film["probabilities"].get) == film["predicted"] or \
            film["predicted"] == "covid"  # only the COVID-19 operating point may overrule the argmax


def test_evaluate_classifier_without_data_uses_the_saved_test_split(trained, capsys):
    call_command("evaluate_classifier", model=str(trained / "tiny.tflite"), json=True)
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == len(read_split(trained / "split.csv")["test"])


def test_a_network_without_global_pooling_gets_an_occlusion_heatmap(tmp_path):
    import keras

    from classifier.training.networks import build_paper
    from classifier.training.export import export_litert

    keras.utils.set_random_seed(0)
    path = export_litert(build_paper(70), temperature=1.0, path=tmp_path / "paper.tflite")
    predictor = Predictor(path)
    pixels = chest_like_array(200, seed=9)
    result = predictor.classify(pixels)
    assert not predictor.has_cam
    assert result.heatmap.shape == pixels.shape and result.heatmap.dtype == np.uint8
    assert result.heatmap.max() == 255 and result.heatmap.min() == 0


def test_input_size_option_trains_and_serves_the_network_at_that_size(synthetic_dataset, tmp_path):
    out = tmp_path / "model"
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(out), epochs=1, seed=3,
                 input_size=48)
    assert json.loads((out / "training.json").read_text())["input_size"] == 48
    predictor = Predictor(out / "tiny.tflite")
    assert predictor.input_size == 48
    pixels = chest_like_array(200, seed=4)
    result = predictor.classify(pixels)  # a 200 px film is resized to the trained 48 px input
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.heatmap.shape == pixels.shape and result.heatmap.max() > result.heatmap.min()


def test_cue_augmentation_and_extra_data_options_train_and_are_recorded(synthetic_dataset, tmp_path):
    from cxrsite.testing.images import write_synthetic_dataset

    (tmp_path / "extra").mkdir()
    extra = write_synthetic_dataset(tmp_path / "extra", per_class=8)
    out = tmp_path / "model"
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(out), epochs=1, seed=3,
                 cue_augmentation=True, extra_data=str(extra))
    sidecar = json.loads((out / "tiny.tflite.json").read_text())
    assert sidecar["cue_augmentation"] is True and sidecar["extra_data"] == str(extra.resolve())
    split = read_split(out / "split.csv")
    for name in ("train", "val", "test"):  # the extra folder, split by its own groups, is in each split
        assert any(r.file.startswith(str(extra.resolve())) for r in split[name]), name
    output = StringIO()
    call_command("evaluate_classifier", model=str(out / "tiny.tflite"), json=True, stdout=output)
    assert json.loads(output.getvalue())["n"] == len(split["test"])  # the saved split, extra films too, still reads


def test_a_model_trained_with_histogram_equalisation_is_served_with_it(synthetic_dataset, tmp_path):
    out = tmp_path / "model"
    call_command("train_classifier", arch="tiny", data=str(synthetic_dataset), out=str(out), epochs=1, seed=3,
                 histogram_equalisation=True, cue_augmentation=True, balance="source")
    assert json.loads((out / "training.json").read_text())["balance_sources"] is True
    predictor = Predictor(out / "tiny.tflite")
    assert predictor.equalise is True  # read from the sidecar the training wrote
    record = read_split(out / "split.csv")["test"][0]
    trained_input, _ = load_arrays(synthetic_dataset, [record], 32, equalise=True)
    served_pixels = decode_image((synthetic_dataset / record.file).read_bytes()).pixels
    assert np.array_equal(to_model_input(served_pixels, 32, equalise=predictor.equalise), trained_input[0])
    assert not np.array_equal(to_model_input(served_pixels, 32), trained_input[0])  # the flag changes the input
    served = predictor.classify(served_pixels)
    probabilities, _ = predictor.predict(trained_input)
    assert [served.probabilities[label] for label in LABELS] == probabilities[0].tolist()


def test_the_committed_model_is_served_without_histogram_equalisation():
    from classifier.artifacts import COMMITTED_MODEL

    assert Predictor(COMMITTED_MODEL).equalise is False


def test_histogram_equalisation_spreads_a_dull_film_over_the_whole_range():
    dull = (100 + chest_like_array(64, seed=5) // 8).astype(np.uint8)  # grey levels 100-131 only
    plain, equalised = to_model_input(dull, 64), to_model_input(dull, 64, equalise=True)
    assert plain.max() - plain.min() < 0.15
    assert equalised.min() < 0.05 and equalised.max() > 0.95


def test_precise_batchnorm_statistics_are_the_average_over_the_training_images():
    import keras

    from classifier.training.batchnorm import recompute_statistics

    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.9)])
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(96, 4)).astype(np.float32)
    recompute_statistics(model, x, batch_size=32)
    layer = model.layers[0]
    batches = x.reshape(3, 32, 4)
    assert np.allclose(layer.moving_mean.numpy(), x.mean(axis=0), atol=1e-5)
    assert np.allclose(layer.moving_variance.numpy(), batches.var(axis=1).mean(axis=0), atol=1e-4)
    assert layer.momentum == 0.9


def test_precise_bn_option_saves_the_statistics_of_the_training_images(synthetic_dataset, tmp_path):
    import keras

    from classifier.training.batchnorm import recompute_statistics

    out = tmp_path / "precise"
    call_command("train_classifier", arch="own", input_size=32, data=str(synthetic_dataset), out=str(out), epochs=1,
                 seed=5, precise_bn=True)
    assert json.loads((out / "training.json").read_text())["precise_bn"] is True
    model = keras.models.load_model(out / "own.keras")
    saved = [w.numpy().copy() for w in model.non_trainable_weights]
    x_train, _ = load_arrays(synthetic_dataset, read_split(out / "split.csv")["train"], 32)
    recompute_statistics(model, x_train, batch_size=32)  # again, on the same images: nothing moves
    assert all(np.allclose(a, w.numpy(), atol=1e-4) for a, w in zip(saved, model.non_trainable_weights))
    plain = tmp_path / "plain"
    call_command("train_classifier", arch="own", input_size=32, data=str(synthetic_dataset), out=str(plain), epochs=1,
                 seed=5)
    model = keras.models.load_model(plain / "own.keras")
    saved = [w.numpy().copy() for w in model.non_trainable_weights]
    recompute_statistics(model, x_train, batch_size=32)  # without the option the statistics were different
    assert not all(np.allclose(a, w.numpy(), atol=1e-4) for a, w in zip(saved, model.non_trainable_weights))
