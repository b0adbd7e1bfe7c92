"""The trial comparison's figures equal a small example worked out by hand; activation shows
them and the audit trail keeps what the administrator confirmed."""

import re

import pytest
from django.urls import reverse

from cases.oversight.statistics import clopper_pearson, mcnemar_exact
from cases.oversight.trials import compare_trial
from cases.models import AuditEvent, Case, Review
from classifier.models import ModelVersion
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version

# (radiologist's final finding, served version's label, trial version's label) for eleven cases.
EXAMPLE = [
    ("covid", "covid", "covid"),
    ("covid", "normal", "covid"),
    ("covid", "normal", "covid"),
    ("covid", "viral_pneumonia", "covid"),
    ("normal", "covid", "normal"),
    ("normal", "covid", "normal"),
    ("viral_pneumonia", "normal", "viral_pneumonia"),
    ("normal", "normal", "covid"),
    ("normal", "normal", "normal"),
    ("other", "normal", "covid"),
    ("viral_pneumonia", "viral_pneumonia", "viral_pneumonia"),
]
# By hand. Served agrees on cases 1, 8, 9, 11: 4/11; the trial on 1-7, 9, 11: 9/11.
# COVID-19 findings: cases 1-4; served called 1 of them (1/4), the trial all four (4/4).
# Not COVID-19: cases 5-11 (7); served said not COVID-19 on 7-11 (5/7), the trial on 5, 6, 7, 9, 11 (5/7).
# Only the served version right: case 8 (b = 1); only the trial right: cases 2-7 (c = 6).
# McNemar exact: 2 * P(X <= 1), X ~ Binomial(7, 1/2) = 2 * (1 + 7) / 128 = 0.125.
# The versions give different labels on cases 2-8 and 10: 8 disagreements.
# Exact intervals with k = n or k = 0 have closed forms: 4/4 -> [0.025 ** (1/4), 1]; 1/4 -> lower 1 - 0.975 ** (1/4).


def shown_evidence(page) -> str:
    """The digest of the figures a confirmation page showed, as its form posts it."""
    return re.search(r'name="evidence" value="([0-9a-f]{64})"', page.content.decode()).group(1)


@pytest.fixture
def example(clinic, staff, radiologist):
    served, trial = served_model_version(), trial_version("shadow-v2")
    for number, (finding, served_label, trial_label) in enumerate(EXAMPLE, start=1):
        case = make_case(clinic, staff, mrn=f"MRN-{number}")
        prediction = predict(case, served_label, version=served)
        trial_predict(case, trial_label, version=trial)
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding=finding,
                              agreed=finding == served_label)
        Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)
    # Scored by the trial but never reviewed: not part of the comparison.
    unreviewed = make_case(clinic, staff, mrn="MRN-WAITING")
    predict(unreviewed, "covid", version=served)
    trial_predict(unreviewed, "normal", version=trial)
    return served, trial


def test_the_comparison_equals_the_hand_computed_example(example):
    served, trial = example
    result = compare_trial(trial, served=served)
    c = result.comparison
    assert c.cases == 11
    assert (c.served.agreement.k, c.served.agreement.n, c.trial.agreement.k, c.trial.agreement.n) == (4, 11, 9, 11)
    assert (c.served.covid_sensitivity.k, c.served.covid_sensitivity.n) == (1, 4)
    assert (c.trial.covid_sensitivity.k, c.trial.covid_sensitivity.n) == (4, 4)
    assert (c.served.covid_specificity.k, c.served.covid_specificity.n) == (5, 7)
    assert (c.trial.covid_specificity.k, c.trial.covid_specificity.n) == (5, 7)
    assert (c.only_served_agrees, c.only_trial_agrees) == (1, 6)
    assert c.p_value == pytest.approx(0.125)
    assert c.trial.covid_sensitivity.interval == pytest.approx((0.025 ** 0.25, 1.0))
    assert c.served.covid_sensitivity.interval[0] == pytest.approx(1 - 0.975 ** 0.25)
    # Rows: the findings a radiologist can sign (issue 27 added "Image not usable": none here).
    assert [row.counts for row in c.served.matrix] == [[1, 2, 1], [2, 2, 0], [0, 1, 1], [0, 1, 0], [0, 0, 0]]
    assert [row.counts for row in c.trial.matrix] == [[4, 0, 0], [1, 3, 0], [0, 0, 2], [1, 0, 0], [0, 0, 0]]
    assert result.disagreement_count == len(result.disagreements) == 8


def test_mcnemar_and_the_exact_interval_match_their_closed_forms():
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == pytest.approx(1.0)
    assert mcnemar_exact(0, 0) == 1.0
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** 0.1))
    assert clopper_pearson(0, 0) is None


def test_the_oversight_page_shows_the_comparison_with_links_to_the_disagreements(client, administrator, example):
    client.force_login(administrator)
    page = client.get(reverse("audit:oversight")).content.decode()
    for text in ["Versions on silent trial", "shadow-v2 against served-v1", "36.4% (4/11", "81.8% (9/11",
                 "100.0% (4/4; 95% CI 39.8–100.0%)", "McNemar p = 0.125", "could be chance"]:
        assert text in page, text
    disagreeing = Case.objects.get(patient__mrn="MRN-8")
    assert reverse("audit:timeline", args=[disagreeing.public_id]) in page
    assert reverse("audit:timeline", args=[Case.objects.get(patient__mrn="MRN-1").public_id]) not in page


def test_activating_from_the_admin_asks_for_a_confirmation_that_shows_the_comparison(client, administrator,
                                                                                    example):
    served, trial = example
    client.force_login(administrator)
    response = client.post(reverse("admin:classifier_modelversion_changelist"),
                           {"action": "activate", "_selected_action": [trial.pk]})
    confirm = reverse("audit:confirm_activation", args=[trial.pk])
    assert response.status_code == 302 and response["Location"] == confirm
    assert not ModelVersion.objects.get(pk=trial.pk).active
    page = client.get(confirm).content.decode()
    for text in ["Activate shadow-v2?", "81.8% (9/11", "McNemar p = 0.125"]:
        assert text in page, text


def test_confirming_activates_the_version_and_audits_the_comparison_seen(client, administrator, example):
    served, trial = example
    client.force_login(administrator)
    url = reverse("audit:confirm_activation", args=[trial.pk])
    response = client.post(url, {"evidence": shown_evidence(client.get(url))})  # the digest of what was shown
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.active and not trial.on_trial
    event = AuditEvent.objects.get(action=AuditEvent.Action.MODEL_ACTIVATED)
    assert event.actor == administrator
    assert event.details["model_version"]["name"] == "shadow-v2"
    evidence = event.details["evidence"]
    assert evidence["compared_with"] == "served-v1"
    assert (evidence["cases"], evidence["only_served_agrees"], evidence["only_trial_agrees"]) == (11, 1, 6)
    assert evidence["mcnemar_p"] == pytest.approx(0.125)
    assert evidence["trial"]["agreement"] == {"k": 9, "n": 11}


def test_a_version_with_no_trial_evidence_says_so_before_activation(client, administrator, db):
    served_model_version()
    untried = ModelVersion.objects.create(name="untried", architecture="tiny", file="x.tflite", sha256="2" * 64)
    client.force_login(administrator)
    page = client.get(reverse("audit:confirm_activation", args=[untried.pk])).content.decode()
    assert "no evidence from this deployment" in page


@pytest.mark.parametrize("who", ["staff", "radiologist"])
def test_only_administrators_may_open_or_confirm_an_activation(client, request, example, who):
    _, trial = example
    client.force_login(request.getfixturevalue(who))
    url = reverse("audit:confirm_activation", args=[trial.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert not ModelVersion.objects.get(pk=trial.pk).active
