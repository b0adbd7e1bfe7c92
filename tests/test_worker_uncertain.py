"""Issue 25: a film in the model's uncertain band gets no AI suggestion and no priority (a real worker,
the committed gate and model), is shown like a gate refusal with its own reason, and is counted apart."""

import numpy as np
import pytest
from django.urls import reverse

from cases.classification.services import enqueue_case
from cases.models import Case, Clinic
from cases.oversight.clinics import weekly_figures
from classifier.artifacts import COMMITTED_GATE, COMMITTED_MODEL
from classifier.gate import get_gate
from classifier.inference import get_predictor
from classifier.operating_point import covid_word
from classifier.preprocessing import load_grayscale
from classifier.training.data import DEFAULT_DATA_DIR, read_split
from cxrsite.testing.stack import running_stack
from tests.conftest import require_shared
from tests.factories import predicted_case
from tests.test_worker_pipeline import stored_case, wait_until_finished

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def stack(django_db_setup):
    with running_stack(gate=COMMITTED_GATE) as running:
        yield running


def uncertain_covid_leaning_film() -> bytes:
    """The first validation film the gate passes whose COVID-19 probability is above the priority
    threshold but which lies in the sidecar's uncertain band: without the band it would jump the queue."""
    require_shared(DEFAULT_DATA_DIR / "manifest.csv")
    predictor, gate = get_predictor(COMMITTED_MODEL), get_gate(COMMITTED_GATE)
    for record in sorted(read_split(COMMITTED_MODEL.parent / "split.csv")["val"], key=lambda r: r.file):
        pixels = load_grayscale(DEFAULT_DATA_DIR / record.file)
        result = predictor.classify(pixels)
        if result.uncertain and result.probabilities["covid"] > 0.5 and gate.check(pixels).passed:
            return (DEFAULT_DATA_DIR / record.file).read_bytes()
    raise AssertionError("no validation film in the uncertain band")


@pytest.mark.usefixtures("worker_storage")
def test_a_film_in_the_uncertain_band_gets_no_label_no_priority_and_says_no_ai_suggestion_uncertain(
        stack, client, staff, radiologist, clinic):
    case = stored_case(staff, clinic, uncertain_covid_leaning_film())
    covid, _ = predicted_case(clinic, staff, "covid")  # a real suggestion with COVID-19 priority
    enqueue_case(case.pk)
    case = wait_until_finished(case)

    assert case.status == Case.Status.PREDICTED and case.gate_reason == "uncertain"
    assert (case.predicted_label, case.covid_probability) == ("", None)
    prediction = case.predictions.get()
    assert prediction.uncertain and prediction.gate_passed and not prediction.gives_suggestion
    assert prediction.probabilities["covid"] > 0.5 and prediction.heatmap_name == ""  # kept for audit only
    bands = get_predictor(COMMITTED_MODEL).covid_words
    assert prediction.covid_word == covid_word(prediction.probabilities["covid"], bands)
    assert not case.predictions.with_suggestion().exists() and covid.predictions.with_suggestion().exists()

    client.force_login(radiologist)
    order = [row.pk for row in client.get(reverse("cases:worklist")).context["page"]]
    assert order == [covid.pk, case.pk]
    review_page = client.get(reverse("cases:review", args=[case.public_id])).content.decode()
    assert "No AI suggestion: uncertain" in review_page and 'data-testid="ai-suggestion"' not in review_page

    client.force_login(staff)
    staff_page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert "No AI suggestion: uncertain" in staff_page and 'data-testid="ai-suggestion"' not in staff_page

    weeks = weekly_figures(Clinic.objects.filter(pk=clinic.pk))[0].weeks
    assert (sum(week.uncertain for week in weeks), sum(week.gate_refusals for week in weeks)) == (1, 0)
    assert np.isclose(sum(prediction.probabilities.values()), 1.0, atol=1e-3)
