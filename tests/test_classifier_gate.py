"""The input gate: what is not a whole frontal chest film is refused, with a reason staff can read.

The synthetic tests run anywhere on the committed gate. The floor tests (shared_data) read the
real images in ../shared: the not-cxr test split (by source), the chest test split and
cxr-external; CI has them, so there a missing folder is a failure, not a skip.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from classifier.gate import COMMITTED_GATE, NETWORK_CLASSES, REASONS, RULES, GateResult, check, gate_input, get_gate
from classifier.preprocessing import to_model_input
from classifier.training.data import DEFAULT_DATA_DIR, read_split
from classifier.training.gate.data import NOT_CXR_DIR, chest_test_pairs
from classifier.training.gate.evaluation import CXR_EXTERNAL_DIR, evaluate_gate
from cxrsite.testing.images import chest_like_array

ROOT = Path(__file__).resolve().parent.parent


def noise_image(seed: int, size: int = 512) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def text_document(size: int = 400) -> np.ndarray:
    page = Image.new("L", (size, int(size * 1.4)), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=16)
    for line in range(24):
        draw.text((20, 20 + 22 * line), f"Discharge summary, line {line}: patient stable, review in 2 weeks.",
                  fill=20, font=font)
    return np.asarray(page)


@pytest.mark.parametrize("seed", range(9))
def test_random_noise_is_refused_as_not_a_radiograph(seed):
    # The issue: nine 512 x 512 noise images were each called COVID-19 at 99.9 %.
    result = check(noise_image(seed))
    assert not result.passed
    assert result.reason == "not_radiograph"
    assert "radiograph" in result.reason_text


@pytest.mark.parametrize("value", [0, 128, 255])
def test_a_uniform_image_is_refused_as_blank(value):
    result = check(np.full((300, 300), value, dtype=np.uint8))
    assert (result.passed, result.reason) == (False, "blank")


def test_a_rendered_text_document_is_refused_as_not_a_radiograph():
    result = check(text_document())
    assert (result.passed, result.reason) == (False, "not_radiograph")


def test_an_image_under_128_pixels_a_side_is_refused_as_too_small():
    result = check(np.asarray(Image.fromarray(chest_like_array(256)).resize((100, 90))))
    assert (result.passed, result.reason) == (False, "too_small")


def test_every_reason_the_gate_can_give_has_a_message_for_clinic_staff():
    assert set(RULES) | set(NETWORK_CLASSES[1:]) | {"out_of_distribution", "rotated_or_flipped"} == set(REASONS)
    assert all(text.endswith(".") and len(text) > 30 for text in REASONS.values())
    assert GateResult(passed=True, reason=None, scores={}, version="v").reason_text == ""


def test_a_result_carries_the_gate_version_and_every_score():
    result = check(noise_image(0))
    metadata = json.loads(Path(f"{COMMITTED_GATE}.json").read_text())
    assert result.version == metadata["version"]
    assert set(metadata["classes"]) | {"min_side", "contrast", "neighbour_correlation", "ood_distance",
                                       "upside_down"} <= set(result.scores) <= \
        set(metadata["classes"]) | {"min_side", "contrast", "neighbour_correlation", "ood_distance", "upside_down",
                                    "turned_back_chest"}
    assert sum(result.scores[name] for name in metadata["classes"]) == pytest.approx(1.0, abs=1e-4)


def test_a_changed_sidecar_threshold_changes_the_verdict(tmp_path):
    gate = tmp_path / "gate.tflite"
    shutil.copy(COMMITTED_GATE, gate)
    metadata = json.loads(Path(f"{COMMITTED_GATE}.json").read_text())
    metadata["thresholds"] = {"min_side": 0, "blank_contrast": 0, "noise_correlation": -1,
                              "chest_probability": 0, "ood_distance": 1e9}
    Path(f"{gate}.json").write_text(json.dumps(metadata))
    assert not check(noise_image(1)).passed
    assert check(noise_image(1), gate_path=gate).passed


def test_the_gate_is_loaded_once_per_file():
    assert get_gate(COMMITTED_GATE) is get_gate(COMMITTED_GATE)


def test_the_gate_sees_the_classifier_preprocessing_for_images_up_to_four_times_its_input():
    pixels = chest_like_array(256, seed=2)
    assert np.array_equal(gate_input(pixels, 96), to_model_input(pixels, 96))
    assert gate_input(chest_like_array(2000), 96).shape == (96, 96, 1)


def test_check_runs_without_django_settings_and_without_tensorflow():
    script = ("import sys, numpy as np\n"
              "from classifier.gate import check\n"
              "result = check(np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8))\n"
              "print(result.reason, 'tensorflow' in sys.modules, 'django' in sys.modules)\n")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True).stdout.split()
    assert output == ["not_radiograph", "False", "False"]


def test_the_committed_gate_is_small_and_its_sidecar_holds_version_thresholds_and_validation():
    assert COMMITTED_GATE.stat().st_size < 1024 * 1024
    metadata = json.loads(Path(f"{COMMITTED_GATE}.json").read_text())
    assert metadata["version"].startswith("gate-")
    assert set(metadata["thresholds"]) == {"min_side", "blank_contrast", "noise_correlation", "chest_probability",
                                           "ood_distance", "upside_down"}
    assert metadata["validation"]["chest_pass_rate"] >= 0.99
    assert (COMMITTED_GATE.parent / metadata["not_cxr_split"]).exists()


# --- Floors on the real data (../shared) -------------------------------------------------------


def _needs_shared_data():
    for folder in (DEFAULT_DATA_DIR, NOT_CXR_DIR, CXR_EXTERNAL_DIR):
        if not (folder / "manifest.csv").exists():
            if os.environ.get("CI"):
                pytest.fail(f"CI must provide the shared dataset at {folder}")
            pytest.skip(f"needs the shared dataset at {folder}")


@pytest.fixture(scope="module")
def test_split_figures():
    _needs_shared_data()
    return evaluate_gate(COMMITTED_GATE, chest_test_pairs(), NOT_CXR_DIR)


@pytest.fixture(scope="module")
def external_figures():
    _needs_shared_data()
    return evaluate_gate(COMMITTED_GATE, CXR_EXTERNAL_DIR)


@pytest.mark.shared_data
def test_committed_gate_refuses_99_percent_of_the_not_cxr_test_split_and_97_percent_of_every_kind(test_split_figures):
    not_cxr = test_split_figures["not_cxr"]
    assert not_cxr["refusal_rate"] >= 0.99
    assert {kind: figures["refusal_rate"] for kind, figures in not_cxr["per_kind"].items()
            if figures["refusal_rate"] < 0.97} == {}


@pytest.mark.shared_data
def test_committed_gate_refuses_every_noise_and_uniform_image(test_split_figures):
    synthetic = test_split_figures["synthetic"]
    assert synthetic["noise"]["refusal_rate"] == 1.0
    assert synthetic["uniform"]["refusal_rate"] == 1.0
    assert synthetic["uniform"]["reasons"] == {"blank": synthetic["uniform"]["n"]}


@pytest.mark.shared_data
def test_committed_gate_passes_99_percent_of_the_chest_test_split(test_split_figures):
    assert test_split_figures["chest"]["n"] == len(read_split(ROOT / "classifier" / "trained" / "split.csv")["test"])
    assert test_split_figures["chest"]["pass_rate"] >= 0.99


@pytest.mark.shared_data
def test_committed_gate_passes_99_percent_of_cxr_external(external_figures):
    assert external_figures["chest"]["pass_rate"] >= 0.99


# --- Training, end to end, on a few synthetic images --------------------------------------------


@pytest.mark.slow
def test_a_gate_trained_on_synthetic_data_exports_and_loads(tmp_path):
    from classifier.training.data import Record, write_split
    from classifier.training.gate.data import KIND_CLASSES
    from classifier.training.gate.synthetic import pattern
    from classifier.training.gate.train import EpochMix, train_gate

    chest_dir, not_cxr_dir = tmp_path / "cxr", tmp_path / "not-cxr"
    (chest_dir / "normal").mkdir(parents=True)
    records = []
    for i in range(12):
        Image.fromarray(chest_like_array(160, seed=i)).save(chest_dir / f"normal/n{i}.png")
        records.append(Record(f"normal/n{i}.png", "normal", "synthetic", f"p{i}"))
    write_split(tmp_path / "split.csv", {"train": records[:8], "val": records[8:], "test": []})
    rows = ["file,kind,source_repo,source_path,license,sha256"]
    for k, kind in enumerate(KIND_CLASSES):
        (not_cxr_dir / kind).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(pattern(np.random.default_rng(10 * k + i))).save(not_cxr_dir / f"{kind}/{i}.png")
            rows.append(f"{kind}/{i}.png,{kind},repo{k}-{i},x/{i}.png,none,0")
    (not_cxr_dir / "manifest.csv").write_text("\n".join(rows) + "\n")

    summary = train_gate(out_dir=tmp_path / "gate", cxr_dir=chest_dir, extra_dir=None, not_cxr_dir=not_cxr_dir,
                         split_file=tmp_path / "split.csv", epochs=1, input_size=32, width=4, batch_size=16,
                         mix=EpochMix(real_per_kind=3, synthetic_per_generator=3, inverted=3, lungs_cut_off=3))
    gate = tmp_path / "gate" / "gate.tflite"
    metadata = json.loads(Path(f"{gate}.json").read_text())
    assert metadata["version"] == summary["version"] and metadata["input_size"] == 32
    assert metadata["litert_max_relative_difference"] <= 1e-3
    assert json.loads((tmp_path / "gate" / "gate_metrics.json").read_text())["epochs_run"] == 1
    result = check(chest_like_array(200), gate_path=gate)
    assert result.version == summary["version"] and set(metadata["classes"]) <= set(result.scores)
