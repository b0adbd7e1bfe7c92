"""The committed model meets the quality floors on its saved, patient-disjoint test split.

Uses the real images in ../shared (never committed); CI has them, so there a missing folder
is a failure, not a skip.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from classifier.artifacts import COMMITTED_MODEL, file_sha256
from classifier.training.data import DEFAULT_DATA_DIR, read_split
from tests.conftest import require_shared

pytestmark = pytest.mark.shared_data


def evaluated(**options) -> dict:
    """`evaluate_classifier --model <committed> --json` with these options, as the JSON it prints."""
    output = StringIO()
    call_command("evaluate_classifier", model=str(COMMITTED_MODEL), json=True, stdout=output, **options)
    return json.loads(output.getvalue())


@pytest.fixture(scope="module")
def metrics():
    """No --data: the test split saved beside the model."""
    require_shared(DEFAULT_DATA_DIR / "manifest.csv")
    return evaluated()


def test_committed_model_meets_the_accuracy_and_auc_floors_on_the_held_out_test_split(metrics):
    assert metrics["n"] == len(read_split(COMMITTED_MODEL.parent / "split.csv")["test"])
    assert metrics["model"]["sha256"] == file_sha256(COMMITTED_MODEL)
    # Issue 25 moved the operating point (COVID-19 weight 2.0 by its adult-normals rule) and set the
    # accuracy floor at the operating point to 0.90 ("a safer model may score lower on the test split");
    # measured 0.936 (0.941 at the old weight 1.5). The films it withholds are the next test's.
    assert metrics["accuracy"] >= 0.90
    assert metrics["macro_auc"] >= 0.985


def test_suggestions_outside_the_uncertain_band_are_right_at_least_97_percent_of_the_time(metrics):
    # Measured once on the test split (issue 25): 9.2 % of films in the band, 0.978 right outside it.
    band = metrics["uncertain_band"]
    assert 0 < band["share"] <= 0.20
    assert band["accuracy_outside"] >= 0.97 and band["accuracy_inside"] < band["accuracy_outside"]


def test_committed_model_keeps_covid_sensitivity_at_its_measured_level(metrics):
    # The product floor is 0.95 and this model does NOT reach it (0.926, 200 of 216; see
    # MODEL_CARD.md). This guards the measured level against regression; the floor stays open.
    assert metrics["per_class"]["covid"]["sensitivity"] >= 0.92


def test_committed_model_does_not_call_every_child_viral_pneumonia(metrics):
    assert metrics["subgroups"]["paediatric_normals"]["accuracy"] >= 0.85
    assert metrics["subgroups"]["adult_normals"]["accuracy"] >= 0.85


def test_committed_metrics_file_is_what_evaluation_gives_today(metrics):
    committed = json.loads((COMMITTED_MODEL.parent / "metrics.json").read_text())
    assert committed["confusion_matrix"] == metrics["confusion_matrix"]
    assert committed["model"] == metrics["model"]
    # The films the model card lists as missed are the ones it misses today.
    assert [(m["file"], m["predicted"]) for m in committed["misclassified"]] == \
        [(m["file"], m["predicted"]) for m in metrics["misclassified"]]


def test_nearly_every_chest_film_of_the_test_split_passes_the_input_gate(metrics):
    assert metrics["gate_pass_rate"] >= 0.99
    assert set(metrics["gate_pass_rate_per_source"]) == set(metrics["per_source"])


def test_evaluate_classifier_reports_the_gates_refusal_rate_per_kind_of_a_not_cxr_folder(tmp_path):
    not_cxr = DEFAULT_DATA_DIR.parent / "not-cxr"
    require_shared(not_cxr, "the not-cxr set")
    figures = evaluated(not_cxr=str(not_cxr))["not_cxr"]
    kinds = {path.name for path in not_cxr.iterdir() if path.is_dir()}
    assert set(figures["per_kind"]) == kinds
    assert figures["refusal_rate"] >= 0.97  # the whole folder, training sources included


# --- Issue 18: shortcut evidence, through evaluate_classifier's own code -------------------

EXTERNAL_DIR = DEFAULT_DATA_DIR.parent / "cxr-external"


@pytest.fixture(scope="module")
def external_metrics():
    """--data cxr-external: adult NIH normals, evaluation only."""
    require_shared(EXTERNAL_DIR / "manifest.csv", "the external set")
    return evaluated(data=str(EXTERNAL_DIR))


def test_a_pasted_laterality_marker_barely_moves_the_covid_probability(metrics):
    assert metrics["marker_test"]["n"] == metrics["n"]
    assert metrics["marker_test"]["mean_abs_change_covid"] <= 0.05


def test_the_heatmap_puts_less_than_an_even_share_of_its_mass_in_the_border(metrics):
    heat = metrics["heatmap_mass"]
    assert heat["border_share"] < heat["uniform_border"]
    assert heat["top_band_share"] < heat["uniform_top"]


def test_classes_that_share_a_source_are_told_apart_within_it(metrics):
    # Measured 0.990 (radiography_db) and 0.999+ (Mooney): guards against regression.
    aucs = metrics["within_source_auc"]
    assert aucs["radiography_db"]["covid_vs_normal"]["auc"] >= 0.98
    for source in ("mooney_a", "mooney_b"):
        assert aucs[source]["normal_vs_viral_pneumonia"]["auc"] >= 0.98


def test_external_normals_are_reported_by_view_and_age_band(external_metrics):
    assert set(external_metrics["normals_by_view"]) == {"AP", "PA"}
    assert sum(g["n"] for g in external_metrics["normals_by_view"].values()) == external_metrics["n"]
    assert set(external_metrics["normals_by_age_band"]) <= {"18-39", "40-59", "60+"}


@pytest.mark.xfail(strict=True, reason="issue 25 blocked: the committed model at its issue-25 operating point calls "
                                       "0.657 of cxr-external Normal and 46 % of its AP normals COVID-19; remove this "
                                       "mark with a model that passes")
def test_external_adult_normals_meet_the_floors(external_metrics):
    # Issue 25's floors (they replace issue 18's 0.90 / 0.10): called Normal >= 0.80, AP normals called COVID-19 <= 0.25.
    assert external_metrics["per_class"]["normal"]["sensitivity"] >= 0.80
    assert external_metrics["normals_by_view"]["AP"]["called_covid"] <= 0.25
