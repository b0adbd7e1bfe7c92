"""A per-clinic COVID-19 threshold is fitted to the radiologists' findings by hand-checkable rules,
proposed only when there is enough evidence, shown only for the clinics the user may see, and
never changes the worklist."""

import pytest
from django.urls import reverse

from cases.models import Case, Review
from cases.oversight.operating_points import fit_threshold, operating_point
from cases.roles import CLINIC_AUDITOR_GROUP
from tests.conftest import make_user
from tests.factories import make_case, predict

POSITIVES = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]  # radiologist found COVID-19
NEGATIVES = [0.1, 0.2, 0.35, 0.45, 0.05, 0.38, 0.5, 0.6, 0.01, 0.02]  # radiologist found something else
# By hand, target sensitivity 80%: 8 of the 10 positives must stay above; the 8th highest is 0.4,
# so the threshold is 0.399: sensitivity 8/10, and 7 negatives are at or below it (specificity 7/10).
# At today's 0.5: positives above 0.5 are 6 (0.5 itself is not above), negatives at or below 0.5 are 9.
PAGE = reverse("audit:operating_points")


def test_the_fitted_threshold_equals_the_hand_computed_one():
    point = fit_threshold(POSITIVES, NEGATIVES, 0.8)
    assert point.threshold == 0.399
    assert (point.sensitivity.k, point.sensitivity.n, point.specificity.k, point.specificity.n) == (8, 10, 7, 10)
    now = operating_point(0.5, POSITIVES, NEGATIVES)
    assert (now.sensitivity.k, now.specificity.k) == (6, 9)
    assert fit_threshold([0.437, 0.9], [], 1.0).threshold == 0.436  # strictly below the lowest positive kept


@pytest.fixture
def reviewed_scores(clinic, staff, radiologist, settings):
    settings.CXR_OPERATING_POINT_MIN_CASES, settings.CXR_OPERATING_POINT_SENSITIVITY = 10, 0.8
    settings.CXR_COVID_PRIORITY_THRESHOLD = 0.5
    for number, (probability, finding) in enumerate([(p, "covid") for p in POSITIVES]
                                                    + [(p, "normal") for p in NEGATIVES]):
        case = make_case(clinic, staff, mrn=f"OP-{number}")
        label = "covid" if probability > 0.5 else "normal"
        prediction = predict(case, label, {"covid": probability, "normal": 1 - probability, "viral_pneumonia": 0.0})
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding=finding,
                              agreed=finding == label, note="" if finding == label else "second look")


def test_the_page_proposes_the_threshold_beside_todays_and_changes_nothing(client, administrator, reviewed_scores,
                                                                         other_clinic, settings):
    before = list(Case.objects.values_list("pk", "covid_probability"))
    client.force_login(administrator)
    response = client.get(PAGE)
    page = response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    for text in ["<strong>0.399</strong>", "80.0% (8/10", "70.0% (7/10", "0.5; 60.0% (6/10", "90.0% (9/10",
                 "not enough reviewed cases yet"]:  # the last for Riverside, which has no cases
        assert text in page, text
    assert settings.CXR_COVID_PRIORITY_THRESHOLD == 0.5
    assert list(Case.objects.values_list("pk", "covid_probability")) == before


def test_no_threshold_is_proposed_on_too_little_evidence(client, administrator, reviewed_scores, settings):
    settings.CXR_OPERATING_POINT_MIN_CASES = 11
    client.force_login(administrator)
    page = client.get(PAGE).content.decode()
    assert "<strong>0.399</strong>" not in page and "not enough reviewed cases yet" in page


def test_another_clinics_thresholds_are_never_shown_to_a_user_of_one_clinic(client, reviewed_scores, clinic,
                                                                           other_clinic):
    client.force_login(make_user("rural_auditor", CLINIC_AUDITOR_GROUP, other_clinic))
    page = client.get(PAGE).content.decode()
    assert "Riverside Clinic" in page and "Hillside" not in page and "0.399" not in page
    assert client.get(PAGE, {"clinic": clinic.pk}).status_code == 404


@pytest.mark.parametrize("who", ["staff", "radiologist"])
def test_staff_and_radiologists_are_refused_the_thresholds(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(PAGE).status_code == 403
