"""The input gate in the product: a real worker with the committed gate, and classify_image.

Anything that is not a frontal chest film gets no AI suggestion and no COVID-19 priority; it
waits for a radiologist's read, with the reason, and is reviewed by hand like any case.
"""

import json
import shutil

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.models import Case, Review
from classifier.training.data import DEFAULT_DATA_DIR
from classifier.gate import COMMITTED_GATE, REASONS
from classifier.training.gate.synthetic import document, noise
from cxrsite.testing.images import encode
from cxrsite.testing.stack import running_stack
from tests.conftest import require_shared
from tests.factories import predicted_case
from tests.test_worker_pipeline import stored_case, wait_until_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def stack(django_db_setup):
    with running_stack(gate=COMMITTED_GATE) as running:
        yield running


def real_film() -> bytes:
    require_shared(DEFAULT_DATA_DIR / "normal")
    return sorted((DEFAULT_DATA_DIR / "normal").glob("*.png"))[0].read_bytes()


@pytest.mark.usefixtures("worker_storage")
def test_noise_and_a_document_need_a_human_read_are_never_prioritised_and_are_read_by_hand(
        stack, client, staff, radiologist, clinic):
    rng = np.random.default_rng(5)
    refused = {kind: stored_case(staff, clinic, encode(make(rng))) for kind, make in
               (("noise", noise), ("document", document))}
    covid, _ = predicted_case(clinic, staff, "covid")  # a real suggestion, COVID-19 priority
    from cases.classification.services import enqueue_case

    for case in refused.values():
        enqueue_case(case.pk)
    for kind, case in refused.items():
        case = wait_until_finished(case)
        assert case.status == Case.Status.PREDICTED and case.gate_reason, kind
        assert (case.predicted_label, case.covid_probability) == ("", None)
        prediction = case.predictions.get()
        assert not prediction.gate_passed and prediction.probabilities  # kept for audit, not shown
        assert prediction.heatmap_name == ""
    assert refused["noise"].predictions.get().gate_reason == "not_radiograph"

    client.force_login(radiologist)
    worklist = client.get(reverse("cases:worklist"))
    order = [case.pk for case in worklist.context["page"]]
    assert order[0] == covid.pk and set(order[1:]) == {case.pk for case in refused.values()}
    page = worklist.content.decode()
    assert page.count("Needs a human read") >= 2 and page.count("COVID-19 priority") == 1
    only_human = client.get(reverse("cases:worklist"), {"label": "human_read"}).context["page"]
    assert {case.pk for case in only_human} == {case.pk for case in refused.values()}

    case = refused["noise"]
    review_page = client.get(reverse("cases:review", args=[case.public_id])).content.decode()
    assert REASONS["not_radiograph"] in review_page and 'data-testid="ai-suggestion"' not in review_page
    response = client.post(reverse("cases:review", args=[case.public_id]), {
        "finding": "other", "note": "", "prediction": case.predictions.get().pk})
    assert response.status_code == 302
    review = Review.objects.get(case=case)
    assert (review.finding, review.prediction, review.agreed) == ("other", None, False)

    client.force_login(staff)
    staff_page = client.get(reverse("cases:case_detail", args=[refused["document"].public_id])).content.decode()
    assert "Needs a human read:" in staff_page and 'data-testid="ai-suggestion"' not in staff_page


@pytest.mark.shared_data
@pytest.mark.usefixtures("worker_storage")
def test_a_chest_radiograph_passes_the_gate_and_gets_its_suggestion(stack, staff, clinic):
    case = wait_until_finished(_enqueued(stored_case(staff, clinic, real_film())))
    assert case.status == Case.Status.PREDICTED and case.gate_reason == ""
    assert case.predicted_label and case.covid_probability is not None
    assert case.predictions.get().gate_passed and case.predictions.get().heatmap_name


def _enqueued(case):
    from cases.classification.services import enqueue_case

    enqueue_case(case.pk)
    return case


@pytest.mark.shared_data
def test_classify_image_json_reports_the_gate_and_a_changed_sidecar_changes_the_verdict(tmp_path, capsys):
    film = tmp_path / "film.png"
    film.write_bytes(real_film())
    call_command("classify_image", str(film), json=True, gate=str(COMMITTED_GATE))
    output = json.loads(capsys.readouterr().out)
    assert set(output) >= {"file", "gate", "label", "probabilities", "model", "ms"}
    assert output["gate"]["passed"] is True and output["gate"]["reason"] is None and output["label"]
    assert {"chest", "ood_distance", "contrast"} <= set(output["gate"]["scores"])

    strict = tmp_path / "strict-gate.tflite"
    shutil.copy(COMMITTED_GATE, strict)
    metadata = json.loads(COMMITTED_GATE.with_name(COMMITTED_GATE.name + ".json").read_text())
    metadata["thresholds"]["chest_probability"] = 1.01  # no film can pass a probability above 1
    (tmp_path / "strict-gate.tflite.json").write_text(json.dumps(metadata))
    call_command("classify_image", str(film), json=True, gate=str(strict))
    output = json.loads(capsys.readouterr().out)
    assert output["gate"]["passed"] is False and output["label"] is None and output["gate"]["reason"] in REASONS


@pytest.mark.shared_data
@pytest.mark.usefixtures("worker_storage")
def test_a_photograph_needs_a_human_read_with_its_reason(stack, staff, clinic):
    require_shared(DEFAULT_DATA_DIR.parent / "not-cxr" / "photo", "the not-cxr set")
    photos = sorted((DEFAULT_DATA_DIR.parent / "not-cxr" / "photo").glob("*.png"))
    case = wait_until_finished(_enqueued(stored_case(staff, clinic, photos[0].read_bytes())))
    assert case.status == Case.Status.PREDICTED
    assert case.gate_reason in REASONS and case.predicted_label == "" and case.covid_probability is None
