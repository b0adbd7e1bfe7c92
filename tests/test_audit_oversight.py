"""The oversight dashboard's figures equal a small example worked out by hand."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cases.models import Case, Prediction, Review
from cases.oversight.versions import oversight_by_version
from tests.factories import make_case, model_version, predict

# (model's label, radiologist's first finding, amended finding or None, note) for eight cases.
# Case 7 is never reviewed; case 8 was confirmed as normal, then amended to COVID-19.
EXAMPLE = [
    ("covid", "covid", None, ""),
    ("covid", "covid", None, ""),
    ("normal", "covid", None, "subtle peripheral ground glass"),
    ("normal", "normal", None, ""),
    ("viral_pneumonia", "normal", None, "no consolidation"),
    ("viral_pneumonia", "viral_pneumonia", None, ""),
    ("covid", None, None, ""),
    ("normal", "normal", "covid", "PCR positive, bilateral changes on second look"),
]
# By hand: 7 cases have a final finding; the model agrees on cases 1, 2, 4 and 6: 4/7.
# Final COVID-19 findings: cases 1, 2, 3 and 8; the model called 1 and 2: sensitivity 2/4.
# Minutes from submission to prediction: 1..8, median 4.5. Minutes from prediction to the
# first review: 10, 20, 30, 40, 50, 60 and 80 (case 8), median 40.


def shift(model, pk, **fields):
    model.objects.filter(pk=pk).update(**fields)


@pytest.fixture
def example(clinic, staff, radiologist):
    v1, v2 = model_version("cnn-v1"), model_version("cnn-v2")
    first_case = None
    for number, (label, finding, amended, note) in enumerate(EXAMPLE, start=1):
        case = make_case(clinic, staff, mrn=f"MRN-{number}")
        first_case = first_case or case
        prediction = predict(case, label, version=v1)
        shift(Prediction, prediction.pk, created=case.created + timedelta(minutes=number))
        if finding is None:
            continue
        reviewed_at = case.created + timedelta(minutes=number + 10 * number)
        review = Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding=finding,
                                       agreed=finding == label, note="" if amended else note)
        shift(Review, review.pk, signed_at=reviewed_at)
        if amended:
            amendment = Review.objects.create(case=case, prediction=prediction, reviewer=radiologist,
                                              finding=amended, agreed=amended == label, note=note, amends=review)
            shift(Review, amendment.pk, signed_at=reviewed_at + timedelta(hours=2))
        shift(Case, case.pk, status=Case.Status.REVIEWED)
    # A second version ran on the first case only, half an hour after submission.
    second = predict(first_case, "covid", version=v2)
    shift(Prediction, second.pk, created=first_case.created + timedelta(minutes=30))
    return v1, v2


def test_the_figures_for_each_version_equal_the_hand_computed_example(example):
    v1, v2 = example
    first, second = oversight_by_version()
    assert (first.version, second.version) == (v1, v2)
    assert (first.predictions, first.compared) == (8, 7)
    assert first.agreement == pytest.approx(4 / 7)
    assert (first.covid_cases, first.covid_sensitivity) == (4, 0.5)
    assert [(row.finding, row.counts, row.total) for row in first.matrix] == [
        ("COVID-19", [2, 2, 0], 4),
        ("Normal", [0, 1, 1], 2),
        ("Viral Pneumonia", [0, 0, 1], 1),
        ("Other / indeterminate", [0, 0, 0], 0),
        ("Image not usable: ask the clinic to resend", [0, 0, 0], 0),
    ]
    assert first.median_to_prediction == timedelta(minutes=4.5)
    assert first.median_to_review == timedelta(minutes=40)
    assert sorted((o.predicted, o.finding, o.note) for o in first.overrides) == [
        ("Normal", "COVID-19", "PCR positive, bilateral changes on second look"),
        ("Normal", "COVID-19", "subtle peripheral ground glass"),
        ("Viral Pneumonia", "Normal", "no consolidation"),
    ]
    assert (second.predictions, second.compared, second.agreement, second.covid_sensitivity) == (1, 1, 1.0, 1.0)
    assert second.median_to_prediction == timedelta(minutes=30)
    assert second.median_to_review is None  # the radiologist reviewed the first version's prediction
    assert second.overrides == []


def test_the_dashboard_shows_the_figures_and_a_chart(client, administrator, example):
    client.force_login(administrator)
    page = client.get(reverse("audit:oversight"))
    assert page.status_code == 200
    for text in ["cnn-v1", "cnn-v2", "57.1%", "50.0%", "4 min 30 s", "40 min 0 s", "no consolidation"]:
        assert text in page.content.decode(), text
    chart = client.get(reverse("audit:oversight_chart"))
    assert chart["Content-Type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(chart.content) > 10_000


def test_the_dashboard_with_no_predictions_says_so(client, administrator):
    client.force_login(administrator)
    assert b"No predictions yet" in client.get(reverse("audit:oversight")).content


def test_only_the_latest_overrides_are_listed_with_the_total_count(clinic, staff, radiologist, monkeypatch):
    monkeypatch.setattr("cases.oversight.versions.OVERRIDES_SHOWN", 2)
    version = model_version("cnn-v1")
    for number in range(3):
        case = make_case(clinic, staff, mrn=f"MRN-{number}")
        prediction = predict(case, "normal", version=version)
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="covid",
                              agreed=False, note=f"override {number}")
    [summary] = oversight_by_version()
    assert summary.override_count == 3
    assert [o.note for o in summary.overrides] == ["override 2", "override 1"]


def test_the_dashboard_costs_the_same_number_of_queries_with_more_cases(client, administrator, example, clinic,
                                                                        staff, radiologist):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    v1, _ = example
    client.force_login(administrator)
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("audit:oversight"))
    for number in range(10):
        case = make_case(clinic, staff, mrn=f"MORE-{number}")
        prediction = predict(case, "normal", version=v1)
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="covid", agreed=False)
    with CaptureQueriesContext(connection) as after:
        assert client.get(reverse("audit:oversight")).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)
    first = oversight_by_version()[0]
    assert (first.predictions, first.compared, first.override_count) == (18, 17, 13)


def test_predictions_in_the_uncertain_band_are_counted_apart_for_each_version(client, administrator, clinic, staff):
    version = model_version("banded-model")
    for index, uncertain in enumerate((True, True, False)):
        prediction = predict(make_case(clinic, staff, mrn=f"U-{index}"), "covid", version=version)
        Prediction.objects.filter(pk=prediction.pk).update(uncertain=uncertain)
    (summary,) = oversight_by_version()
    assert (summary.predictions, summary.uncertain) == (3, 2)
    client.force_login(administrator)
    page = client.get(reverse("audit:oversight")).content.decode()
    assert '<span data-testid="uncertain-count">2</span> uncertain, no suggestion' in page
