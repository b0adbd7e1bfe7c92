"""Issue 25: the served model's operating point and uncertain band, as its sidecar states them."""

import json

import numpy as np
import pytest

from classifier import operating_point
from classifier.artifacts import COMMITTED_MODEL, SHARED_DATASETS_DIR
from classifier.inference import Predictor
from classifier.training import operating_point as fitting
from tests.conftest import require_shared

SIDECAR = json.loads(COMMITTED_MODEL.with_name(COMMITTED_MODEL.name + ".json").read_text())


def test_a_film_on_the_decision_boundary_is_in_the_band_and_a_clear_one_is_not():
    weights = [2.0, 1.0, 1.0]
    probabilities = np.array([[0.33, 0.66, 0.01],   # weighted 0.66 vs 0.66: on the boundary
                              [0.02, 0.97, 0.01],   # clearly Normal
                              [0.90, 0.05, 0.05]])  # clearly COVID-19
    assert list(operating_point.decide(probabilities, weights)[1:]) == [1, 0]
    assert list(operating_point.in_band(probabilities, weights, 1.0)) == [True, False, False]
    assert not operating_point.in_band(probabilities, weights, None).any()


def test_the_served_predictor_decides_with_the_sidecar_weights_not_the_graphs():
    predictor = Predictor(COMMITTED_MODEL, num_threads=1)
    assert predictor.decision_weights == SIDECAR["decision_weights"]
    probabilities = np.array([[0.40, 0.60, 0.0]])  # x2.0 on COVID-19: 0.80 > 0.60; the graph's x1.5 says Normal
    assert predictor.decide({"probabilities": probabilities, "decision_scores": probabilities * [1.5, 1, 1]})[0] == 0
    assert predictor.uncertain(probabilities)[0]


@pytest.fixture(scope="module")
def validation():
    require_shared(SHARED_DATASETS_DIR / "cxr-extra" / "manifest.csv", "cxr and cxr-extra")
    predictor = Predictor(COMMITTED_MODEL, num_threads=1)
    return fitting.load_validation(predictor, split_file=COMMITTED_MODEL.parent / "split.csv")


@pytest.mark.shared_data
def test_the_sidecars_covid_weight_is_the_largest_up_to_2_calling_at_most_15_percent_of_adult_normals_covid(
        validation):
    weight = SIDECAR["operating_point"]["covid_weight"]
    assert SIDECAR["decision_weights"] == [weight, 1.0, 1.0] and weight <= 2.0
    adult = validation.probabilities[validation.adult_normal]
    assert validation.adult_normal.sum() == 144  # 106 RSNA adults of the cxr validation split + 38 of cxr-extra
    assert fitting.covid_share(adult, fitting.weights_for(weight)) <= 0.15
    if weight < 2.0:  # the next step up would break the rule
        assert fitting.covid_share(adult, fitting.weights_for(weight + 0.05)) > 0.15


@pytest.mark.shared_data
def test_the_sidecars_uncertain_band_is_the_narrowest_leaving_97_percent_right_outside_it(validation):
    weights, margin = SIDECAR["decision_weights"], SIDECAR["uncertain_band"]["margin"]
    band = operating_point.in_band(validation.probabilities, weights, margin)
    right = operating_point.decide(validation.probabilities, weights) == validation.y
    assert band.mean() <= 0.20
    assert right[~band].mean() >= 0.97
    narrower = operating_point.in_band(validation.probabilities, weights, margin - 0.05)
    assert right[~narrower].mean() < 0.97
    # What the band is for: films inside it are called wrong far more often than outside.
    assert right[band].mean() < 0.80


@pytest.mark.shared_data
def test_the_sidecars_staff_words_bands_obey_their_rule_on_validation(validation):
    words = SIDECAR["covid_words"]
    p = validation.probabilities[:, 0]
    covid = validation.y == 0
    assert covid[p >= words["likely"]].mean() >= 0.90
    assert covid[p >= words["likely"] - 0.01].mean() < 0.90  # the smallest such threshold
    assert covid[p < words["unlikely"]].mean() <= 0.02
    assert words["unlikely"] <= words["likely"]
    counts = {word: sum(operating_point.covid_word(value, words) == word for value in p)
              for word in ("likely", "possible", "unlikely")}
    assert {word: n for word, n in counts.items()} == {word: figures["films"]
                                                        for word, figures in words["validation"].items()}


def test_classify_image_gives_no_label_for_a_film_in_the_band_and_says_why(tmp_path, capsys):
    import shutil

    from django.core.management import call_command

    from cxrsite.testing.images import png_bytes
    from cxrsite.testing.stack import permissive_gate

    model = tmp_path / "banded.tflite"
    shutil.copy(COMMITTED_MODEL, model)
    # Every film is within e^100 of its runner-up: the whole space is the band.
    (tmp_path / "banded.tflite.json").write_text(json.dumps({**SIDECAR, "uncertain_band": {"margin": 100.0}}))
    film = tmp_path / "film.png"
    film.write_bytes(png_bytes(256, seed=1))
    gate = str(permissive_gate(tmp_path))
    call_command("classify_image", str(film), model=str(model), gate=gate, json=True)
    output = json.loads(capsys.readouterr().out)
    assert (output["label"], output["uncertain"]) == (None, True) and output["probabilities"]
    call_command("classify_image", str(film), model=str(model), gate=gate)
    assert "no suggestion, needs a human read: the model is uncertain" in capsys.readouterr().out
