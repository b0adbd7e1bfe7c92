"""The committed model as the worker serves it: classify_image, heatmap, hash, no TensorFlow."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from classifier.artifacts import COMMITTED_MODEL, file_sha256
from classifier.inference import classify
from classifier.labels import LABELS
from classifier.training.data import read_split
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, jpeg_bytes, png_bytes
from cxrsite.testing.stack import permissive_gate

MODEL_CARD = Path(__file__).resolve().parent.parent / "classifier" / "MODEL_CARD.md"


def test_committed_model_is_small_and_its_sha256_is_the_one_on_the_model_card():
    assert COMMITTED_MODEL.stat().st_size < 5 * 1024 * 1024
    hashes = re.findall(r"`([0-9a-f]{64})`", MODEL_CARD.read_text())
    assert hashes == [file_sha256(COMMITTED_MODEL)]
    assert "not a diagnostic device" in MODEL_CARD.read_text().lower()


def test_committed_model_gives_a_probability_for_each_label_and_a_heatmap_the_size_of_the_image():
    pixels = chest_like_array(300, seed=4)[:, :280]  # not square, not the training size
    result = classify(pixels, model_path=COMMITTED_MODEL)
    assert result.label in LABELS
    assert set(result.probabilities) == set(LABELS)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.label == max(result.probabilities, key=result.probabilities.get)
    assert result.heatmap.dtype == np.uint8 and result.heatmap.shape == pixels.shape
    assert np.ptp(result.heatmap) > 200  # scaled to the full range, not constant
    assert result.model_sha256 == file_sha256(COMMITTED_MODEL)
    assert result.architecture == "own"
    assert result.inference_ms > 0


@pytest.mark.parametrize("suffix, data", [
    (".png", png_bytes(256, seed=1)),
    (".jpg", jpeg_bytes(256, seed=2)),
    (".dcm", dicom_bytes(chest_like_array(256, seed=3))),
])
def test_classify_image_reads_png_jpeg_and_dicom(tmp_path, capsys, suffix, data):
    path = tmp_path / f"film{suffix}"
    path.write_bytes(data)
    # Synthetic films are not radiographs: the tests' open gate lets them through to the model.
    call_command("classify_image", str(path), model=str(COMMITTED_MODEL), gate=str(permissive_gate(tmp_path)),
                 json=True)
    output = json.loads(capsys.readouterr().out)
    assert output["file"] == str(path)
    assert output["label"] in LABELS
    assert sum(output["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert output["model_sha256"] == file_sha256(COMMITTED_MODEL)
    assert output["inference_ms"] > 0


def test_classify_image_explains_a_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(Exception, match="not a PNG, JPEG or DICOM"):
        call_command("classify_image", str(path), model=str(COMMITTED_MODEL))


def test_serving_path_never_imports_tensorflow():
    script = (
        "import sys\n"
        "from classifier.inference import classify\n"
        "from classifier.preprocessing import load_grayscale\n"
        "from cxrsite.testing.images import png_bytes\n"
        "from classifier.artifacts import COMMITTED_MODEL\n"
        "result = classify(load_grayscale(png_bytes(256)), model_path=COMMITTED_MODEL)\n"
        "print(result.label, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                            capture_output=True, text=True, check=True).stdout.split()
    assert output[0] in LABELS
    assert output[1:] == ["False", "False"]


def test_classify_runs_in_a_process_with_no_django_settings():
    script = (
        "import sys\n"
        "from classifier.artifacts import COMMITTED_MODEL\n"
        "from classifier.inference import classify\n"
        "from classifier.preprocessing import load_grayscale\n"
        "from cxrsite.testing.images import png_bytes\n"
        "result = classify(load_grayscale(png_bytes(256)), model_path=COMMITTED_MODEL)\n"
        "from django.conf import settings\n"
        "print(result.label, settings.configured, 'cases' in sys.modules)\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    label, configured, imported_cases = done.stdout.split()
    assert label in LABELS
    assert (configured, imported_cases) == ("False", "False")


def test_model_card_is_the_one_written_from_the_committed_files(tmp_path):
    from classifier.training.model_card import write_model_card

    write_model_card(COMMITTED_MODEL.parent, tmp_path / "card.md")
    assert (tmp_path / "card.md").read_text() == MODEL_CARD.read_text()


def test_model_card_lists_every_missed_covid_film_of_the_test_split():
    metrics = json.loads((COMMITTED_MODEL.parent / "metrics.json").read_text())
    covid_row = metrics["confusion_matrix"]["matrix"][0]
    missed = sum(covid_row) - covid_row[0]
    section = MODEL_CARD.read_text().split("### Missed COVID-19 films")[1].split("## Limitations")[0]
    listed = [line for line in section.splitlines() if line.startswith("| `covid/")]
    assert len(listed) == missed > 0
    split_files = {r.file for r in read_split(COMMITTED_MODEL.parent / "split.csv")["test"] if r.label == "covid"}
    assert {line.split("`")[1] for line in listed} <= split_files
