"""Evaluation figures, calibration and the patient-group split, checked against hand computations."""

import numpy as np
import pytest

from classifier.calibration import covid_decision_weight, expected_calibration_error, fit_temperature, softmax
from classifier.training.data import Record, class_weights, source_balanced_weights, split_records
from classifier.training.evaluation import compute_metrics


def one_hot_probabilities(predicted: list[int], confidence: float = 0.8) -> np.ndarray:
    probabilities = np.full((len(predicted), 3), (1 - confidence) / 2)
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def test_metrics_match_a_hand_computed_confusion_matrix():
    # true:      covid x4,        normal x3,    viral x3
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    predicted = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0]
    # Confusion matrix by hand (rows true): covid [3,1,0], normal [0,2,1], viral [1,0,2]
    metrics = compute_metrics(np.array(y_true), one_hot_probabilities(predicted))

    assert metrics["confusion_matrix"] == {"labels": ["covid", "normal", "viral_pneumonia"],
                                           "matrix": [[3, 1, 0], [0, 2, 1], [1, 0, 2]]}
    assert metrics["n"] == 10
    assert metrics["accuracy"] == pytest.approx(7 / 10)
    covid = metrics["per_class"]["covid"]
    assert covid["n"] == 4
    assert covid["sensitivity"] == pytest.approx(3 / 4)
    assert covid["specificity"] == pytest.approx(5 / 6)  # of 6 non-covid, 1 called covid
    assert covid["precision"] == pytest.approx(3 / 4)
    normal = metrics["per_class"]["normal"]
    assert (normal["sensitivity"], normal["specificity"], normal["precision"]) == pytest.approx((2 / 3, 6 / 7, 2 / 3))
    # F1 per class: covid 2*3/(6+1+1)=0.75, normal 2*2/(4+1+1)=2/3, viral 2*2/(4+1+1)=2/3
    assert metrics["macro_f1"] == pytest.approx((0.75 + 2 / 3 + 2 / 3) / 3)
    # With one-hot-like scores the one-vs-rest AUC of a class is (sensitivity + specificity) / 2.
    assert covid["auc"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert metrics["macro_auc"] == pytest.approx(np.mean([c["auc"] for c in metrics["per_class"].values()]))


def test_metrics_report_each_source_and_normals_by_age():
    y_true = np.array([1, 1, 1, 1, 2, 0])
    predicted = [1, 2, 1, 1, 2, 0]
    sources = ["mooney_a", "mooney_b", "radiography_db", "radiography_db", "mooney_a", "cohen"]
    metrics = compute_metrics(y_true, one_hot_probabilities(predicted), sources=sources)

    assert metrics["per_source"]["mooney_b"] == {"n": 1, "accuracy": 0.0, "labels": {"normal": 1},
                                                 "predicted": {"covid": 0, "normal": 0, "viral_pneumonia": 1},
                                                 "sensitivity": {"normal": 0.0}}
    assert metrics["per_source"]["mooney_a"]["sensitivity"] == {"normal": 1.0, "viral_pneumonia": 1.0}
    assert metrics["per_source"]["radiography_db"]["accuracy"] == 1.0
    assert metrics["subgroups"]["paediatric_normals"]["n"] == 2
    assert metrics["subgroups"]["paediatric_normals"]["accuracy"] == 0.5
    assert metrics["subgroups"]["adult_normals"] == {"n": 2, "accuracy": 1.0,
                                                     "predicted": {"covid": 0, "normal": 2, "viral_pneumonia": 0}}


def test_expected_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    # Four predictions at 0.9 confidence, three right: one bin, gap |0.75 - 0.9|.
    # Two at 0.6 confidence, both right: another bin, gap |1.0 - 0.6|.
    probabilities = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.6, 0.3, 0.1]] * 2)
    y = np.array([0, 0, 0, 1, 0, 0])
    assert expected_calibration_error(probabilities, y) == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.4)


def test_temperature_scaling_recovers_the_temperature_that_made_logits_overconfident():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    temperature = fit_temperature(true_logits * 3.0, y)  # a network three times too confident
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert expected_calibration_error(softmax(true_logits * 3.0, temperature), y) < \
        expected_calibration_error(softmax(true_logits * 3.0), y)


def test_split_keeps_every_patient_group_in_one_split_and_every_class_in_each():
    rng = np.random.default_rng(1)
    records = []
    for i in range(600):
        label = ["covid", "normal", "viral_pneumonia"][i % 3]
        group = f"g{i // 3 if label == 'covid' else i}"  # covid patients have several images
        records.append(Record(f"{label}/{i}.png", label, f"source_{rng.integers(2)}_{label}", group))
    split = split_records(records, seed=7)

    groups = {name: {r.group for r in part} for name, part in split.items()}
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    assert sum(len(part) for part in split.values()) == len(records)
    for part in split.values():
        assert {r.label for r in part} == {"covid", "normal", "viral_pneumonia"}
    assert 0.10 < len(split["test"]) / len(records) < 0.20
    assert split == split_records(records, seed=7)  # a fixed seed gives the same split


def test_class_weights_make_a_rare_class_weigh_more():
    weights = class_weights(np.array([0] * 60 + [1] * 30 + [2] * 10))
    assert weights[2] > weights[1] > weights[0]
    assert sum(weights[c] * n for c, n in enumerate([60, 30, 10])) == pytest.approx(100)


def test_covid_operating_point_is_the_smallest_weight_reaching_the_target_sensitivity():
    # Two COVID films the plain argmax misses (0.40 vs 0.45 normal, 0.30 vs 0.50 normal).
    probabilities = np.array([[0.9, 0.05, 0.05], [0.40, 0.45, 0.15], [0.30, 0.50, 0.20], [0.2, 0.7, 0.1]])
    y = np.array([0, 0, 0, 1])
    assert covid_decision_weight(probabilities, y, target_sensitivity=0.6) == pytest.approx(1.15)  # 0.40*1.15 > 0.45
    assert covid_decision_weight(probabilities, y, target_sensitivity=1.0) == pytest.approx(1.7)  # 0.30*1.7 > 0.50
    assert covid_decision_weight(probabilities, y, target_sensitivity=0.3) == 1.0


def test_metrics_count_the_models_decision_not_the_most_probable_label():
    probabilities = one_hot_probabilities([1, 1, 2])
    metrics = compute_metrics(np.array([0, 1, 2]), probabilities, predicted=np.array([0, 1, 2]))
    assert metrics["accuracy"] == 1.0
    assert metrics["confusion_matrix"]["matrix"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_source_balanced_weights_give_each_class_and_each_source_within_it_the_same_total():
    records = ([Record(f"c{i}", "covid", "radiography_db", f"g{i}") for i in range(6)]
               + [Record(f"h{i}", "covid", "hannover", f"h{i}") for i in range(2)]
               + [Record(f"n{i}", "normal", "mooney_b", f"n{i}") for i in range(4)])
    weights = source_balanced_weights(records)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[:6].sum() == pytest.approx(weights[6:8].sum())  # two sources of COVID-19 alike
    assert weights[:8].sum() == pytest.approx(weights[8:].sum())  # and the two classes alike
