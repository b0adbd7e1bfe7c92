"""A clinic's evidence for a model version against a small example worked out by hand; the go-live rule refuses
below it and allows above it, audited, with the chosen threshold applied to new cases only; the confirmation
refuses evidence that changed; the pages are the clinic auditor's and the administrators', nobody else's."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cases.audit.actors import Actor
from cases.models import AuditEvent, Case, ClinicAIState, Prediction, Review
from cases.reviews.services import sign_review
from cases.validation import services
from cases.validation.drift import pause_falling_clinics
from cases.validation.evidence import CLINIC, GLOBAL, evidence_for
from tests.factories import classified, make_case, predict, served_model_version

pytestmark = [pytest.mark.django_db, pytest.mark.local_validation]


def probabilities(covid: float, label: str) -> dict:
    rest = 1 - covid
    other = {"normal": "viral_pneumonia", "viral_pneumonia": "normal"}.get(label, "normal")
    if label == "covid":
        return {"covid": covid, "normal": rest / 2, "viral_pneumonia": rest / 2}
    return {"covid": covid, label: rest - 0.05, other: 0.05}


# (COVID-19 probability, model's label, radiologist's finding, gate refused) for eight blind reads.
EXAMPLE = [
    (0.9, "covid", "covid", False),
    (0.8, "covid", "covid", False),
    (0.4, "normal", "covid", False),
    (0.1, "normal", "normal", False),
    (0.2, "normal", "normal", False),
    (0.6, "covid", "normal", False),
    (0.3, "viral_pneumonia", "viral_pneumonia", False),
    (0.95, "covid", "covid", True),  # the gate refused the film: left out of every figure but the refusals
]
# By hand, on the seven compared cases (three COVID-19, four other findings):
# at 0.5, sensitivity 2/3 and specificity 3/4; AUC: 4 + 4 + 3 of 12 pairs = 11/12;
# one case per probability bin, so ECE = (0.1 + 0.2 + 0.6 + 0.1 + 0.2 + 0.6 + 0.3) / 7 = 0.3;
# agreement 5/7; kappa: chance (3*3 + 3*3 + 1*1) / 49 = 19/49, so (35/49 - 19/49) / (30/49) = 16/30;
# the clinic's own threshold at sensitivity 1.0: just below 0.4, 0.399: sensitivity 3/3, specificity 3/4;
# gate refusals 1/8, none uncertain; submitted -> prediction 1..8 min (median 4.5, p90 8); -> signed 10..80 min (45, 80).


@pytest.fixture
def rules(settings):
    settings.CXR_LOCAL_MIN_POSITIVES, settings.CXR_LOCAL_MIN_NEGATIVES = 3, 4
    settings.CXR_LOCAL_MIN_SENSITIVITY, settings.CXR_LOCAL_MIN_SPECIFICITY = 0.25, 0.15
    settings.CXR_OPERATING_POINT_SENSITIVITY = 1.0
    settings.CXR_COVID_PRIORITY_THRESHOLD = 0.5


@pytest.fixture
def version(db):
    return served_model_version("served-v1")


@pytest.fixture
def blind_reads(rules, clinic, staff, radiologist, version):
    for number, (covid, label, finding, refused) in enumerate(EXAMPLE, start=1):
        case = make_case(clinic, staff, mrn=f"E-{number}", age=timedelta(hours=3))
        prediction = predict(case, label, probabilities(covid, label), version=version)
        Prediction.objects.filter(pk=prediction.pk).update(created=case.created + timedelta(minutes=number),
                                                           **({"gate_passed": False, "gate_reason": "not_frontal"}
                                                              if refused else {}))
        review = Review.objects.create(case=case, prediction=None, reviewer=radiologist, finding=finding, agreed=False)
        Review.objects.filter(pk=review.pk).update(signed_at=case.created + timedelta(minutes=10 * number))
        Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED, predicted_label="",
                                               covid_probability=None, covid_priority=False)


def test_the_evidence_equals_the_example_worked_out_by_hand(clinic, version, blind_reads):
    evidence = evidence_for(clinic, version)
    assert (evidence.predictions, evidence.reviewed, evidence.covid_cases, evidence.other_cases) == (8, 7, 3, 4)
    glob = evidence.at_global
    assert (glob.threshold, glob.sensitivity.k, glob.sensitivity.n, glob.specificity.k, glob.specificity.n) == (
        0.5, 2, 3, 3, 4)
    own = evidence.at_clinic
    assert (own.threshold, own.sensitivity.k, own.sensitivity.n, own.specificity.k, own.specificity.n) == (
        0.399, 3, 3, 3, 4)
    assert evidence.auc == pytest.approx(11 / 12)
    assert evidence.ece == pytest.approx(0.3)
    assert (evidence.agreement.k, evidence.agreement.n) == (5, 7)
    assert evidence.kappa == pytest.approx(16 / 30)
    assert (evidence.gate_refusals.k, evidence.gate_refusals.n) == (1, 8)
    assert (evidence.uncertain.k, evidence.uncertain.n) == (0, 8)
    assert (evidence.to_prediction.median, evidence.to_prediction.p90) == (timedelta(minutes=4.5), timedelta(minutes=8))
    assert (evidence.to_signed.median, evidence.to_signed.p90) == (timedelta(minutes=45), timedelta(minutes=80))
    # Exact intervals: 2/3 has a lower bound of 0.094 (below the floor 0.25); 3/3 of 0.292; 3/4 of 0.194.
    assert glob.sensitivity.interval[0] == pytest.approx(0.0943, abs=1e-4)
    assert own.sensitivity.interval[0] == pytest.approx(0.2924, abs=1e-4)
    assert evidence.ready_choices == [CLINIC]
    assert "sensitivity's lower 95% bound 9.4% is not above the floor 25%" in evidence.missing_by_choice[GLOBAL][0]


def test_a_film_in_the_uncertain_band_is_left_out_of_every_figure_and_counted_as_the_uncertain_rate(
        client, administrator, clinic, staff, radiologist, version, blind_reads):
    """The worked example plus a ninth blind read the model was uncertain on, its label (COVID-19 at 0.97) agreeing
    with the finding: were it counted it would change the cases compared, the agreement and the intervals."""
    case = make_case(clinic, staff, mrn="E-9", age=timedelta(hours=3))
    prediction = predict(case, "covid", probabilities(0.97, "covid"), version=version)
    Prediction.objects.filter(pk=prediction.pk).update(uncertain=True, created=case.created + timedelta(minutes=9))
    Review.objects.create(case=case, prediction=None, reviewer=radiologist, finding="covid", agreed=False)
    evidence = evidence_for(clinic, version)
    assert (evidence.predictions, evidence.reviewed, evidence.covid_cases, evidence.other_cases) == (9, 7, 3, 4)
    assert (evidence.agreement.k, evidence.agreement.n) == (5, 7)
    assert (evidence.at_global.sensitivity.k, evidence.at_global.sensitivity.n) == (2, 3)
    assert evidence.auc == pytest.approx(11 / 12)
    assert (evidence.uncertain.k, evidence.uncertain.n) == (1, 9)
    assert (evidence.gate_refusals.k, evidence.gate_refusals.n) == (1, 9)
    assert evidence.as_details()["uncertain"] == [1, 9]
    client.force_login(administrator)
    page = client.get(reverse("audit:validation_clinic", args=[clinic.pk])).content.decode()
    assert 'data-testid="uncertain-rate">' + evidence.uncertain.text in page


def test_go_live_is_refused_below_the_rule_and_says_what_is_missing(clinic, version, blind_reads, settings):
    settings.CXR_LOCAL_MIN_POSITIVES = 4
    evidence = evidence_for(clinic, version)
    assert evidence.summary == "1 more reviewed COVID-19 case"
    with pytest.raises(services.StateChangeRefused, match="1 more reviewed COVID-19 case"):
        services.go_live(clinic=clinic, version=version, choice=CLINIC, shown_digest=evidence.digest,
                         actor=Actor.system())
    with pytest.raises(services.StateChangeRefused, match="Not ready"):
        services.go_live(clinic=clinic, version=version, choice=GLOBAL, shown_digest=evidence.digest,
                         actor=Actor.system())
    assert not ClinicAIState.objects.live().exists()


def test_go_live_at_the_clinics_threshold_is_audited_and_applies_to_new_cases_only(clinic, staff, version,
                                                                                   blind_reads, administrator):
    evidence = evidence_for(clinic, version)
    services.go_live(clinic=clinic, version=version, choice=CLINIC, shown_digest=evidence.digest,
                     actor=Actor.of_user(administrator), user=administrator)
    row = ClinicAIState.objects.get()
    assert (row.state, row.covid_threshold, row.changed_by) == ("live", 0.399, administrator)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED)
    assert event.details["threshold_choice"] == CLINIC and event.details["evidence"] == evidence.as_details()
    assert (event.actor, event.clinic) == (administrator, clinic)
    # An old case keeps the label and priority it was scored with: 0.4 is "normal", below the global 0.5.
    old = Case.objects.get(patient__mrn="E-3")
    assert (old.predicted_label, old.covid_probability, old.covid_priority) == ("normal", 0.4, False)
    # A new case at 0.45 is COVID-19 and first in the worklist at the clinic's 0.399.
    new = classified(make_case(clinic, staff, mrn="NEW"), version, {"covid": 0.45, "normal": 0.5,
                                                                    "viral_pneumonia": 0.05})
    prediction = Prediction.objects.get(case=new)
    assert (prediction.label, prediction.covid_threshold) == ("covid", 0.399)
    assert (new.predicted_label, new.covid_priority) == ("covid", True)


def test_go_live_is_refused_when_the_evidence_changed_since_the_page_was_shown(clinic, version, blind_reads,
                                                                               radiologist):
    shown = evidence_for(clinic, version).digest
    review = Review.objects.get(case__patient__mrn="E-6")
    Review.objects.create(case=review.case, reviewer=radiologist, finding="covid", agreed=False, amends=review,
                          amendment_reason="second look")
    with pytest.raises(services.StateChangeRefused, match="evidence changed"):
        services.go_live(clinic=clinic, version=version, choice=CLINIC, shown_digest=shown, actor=Actor.system())


def test_the_confirmation_page_switches_live_and_pauses_for_the_clinics_auditor_only(
        client, clinic, other_clinic, version, blind_reads, one_clinic_auditor, staff):
    page_url = reverse("audit:validation_clinic", args=[clinic.pk])
    client.force_login(staff)
    assert client.get(page_url).status_code == 403
    client.force_login(one_clinic_auditor)
    assert client.get(reverse("audit:validation_clinic", args=[other_clinic.pk])).status_code == 404
    listing = client.get(reverse("audit:validation")).content.decode()
    assert "Hillside Clinic" in listing and "Riverside" not in listing and "ready" in listing
    page = client.get(page_url)
    assert page.status_code == 200 and page["Cache-Control"] == "private, no-store"
    text = page.content.decode()
    assert "is <span data-testid=\"state\">silent</span>" in text and "66.7% (2/3; 95% CI 9.4–99.2%)" in text
    chart = client.get(reverse("audit:validation_reliability", args=[clinic.pk]))
    assert chart["Content-Type"] == "image/png" and chart.content.startswith(b"\x89PNG") and len(chart.content) > 5000
    assert client.get(reverse("audit:validation_reliability", args=[other_clinic.pk])).status_code == 404
    assert client.post(page_url, {"choice": GLOBAL, "evidence": page.context["evidence"].digest}).status_code == 409
    client.post(page_url, {"choice": CLINIC, "evidence": page.context["evidence"].digest})
    assert ClinicAIState.objects.get().state == "live"
    client.post(page_url, {"action": "pause", "reason": "drift on the new unit"})
    row = ClinicAIState.objects.get()
    assert row.state == "paused" and row.reason == "drift on the new unit"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED,
                                     actor=one_clinic_auditor).count() == 2


def test_a_new_version_starts_silent_where_its_evidence_does_not_pass_and_live_where_it_does(
        clinic, other_clinic, other_staff, version, blind_reads, administrator):
    from classifier.registry import activate_version
    from tests.factories import model_version, trial_predict

    services.go_live(clinic=clinic, version=version, choice=CLINIC, shown_digest=evidence_for(clinic, version).digest,
                     actor=Actor.system())
    # Riverside never had evidence: it stays silent for every version.
    classified(make_case(other_clinic, other_staff, mrn="R-1"), version, {"covid": 0.2, "normal": 0.7,
                                                                          "viral_pneumonia": 0.1})
    new = model_version("served-v2")
    # Its silent trial re-scored Hillside's blind reads, with the same scores: the same evidence passes.
    for prediction in Prediction.objects.filter(model_version=version, case__clinic=clinic):
        row = trial_predict(prediction.case, prediction.label, version=new, probabilities=prediction.probabilities)
        Prediction.objects.filter(pk=row.pk).update(gate_passed=prediction.gate_passed)
    activate_version(new, user=administrator)
    assert (ClinicAIState.objects.get(clinic=clinic, model_version=new).state,
            ClinicAIState.objects.get(clinic=clinic, model_version=new).covid_threshold) == ("live", 0.399)
    assert not ClinicAIState.objects.filter(clinic=other_clinic, model_version=new).exists()  # silent
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED, clinic=clinic).latest("id")
    assert (event.actor, event.details["model_version"], event.details["threshold_choice"]) == (
        administrator, "served-v2", CLINIC)


def test_a_live_clinic_whose_rolling_sensitivity_falls_below_its_floor_pauses_itself_once(
        clinic, staff, radiologist, version, administrator, settings, mailoutbox):
    administrator.email = "admin@example.org"
    administrator.save()
    settings.CXR_LOCAL_MIN_SENSITIVITY, settings.CXR_LOCAL_ROLLING_CASES = 0.80, 20
    services.change_state(clinic=clinic, version=version, state="live", actor=Actor.system())
    # Ten COVID-19 findings the model called normal (0/10: upper bound 30.8% < 80%), ten normals it got right.
    for number in range(20):
        case = classified(make_case(clinic, staff, mrn=f"D-{number}"), version,
                          {"covid": 0.1, "normal": 0.85, "viral_pneumonia": 0.05})
        finding = "covid" if number < 10 else "normal"
        sign_review(case=case, reviewer=radiologist, finding=finding, note="missed" if finding == "covid" else "")
    assert pause_falling_clinics() == 1
    assert ClinicAIState.objects.get().state == "paused"
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED).latest("id")
    assert (event.actor_label, event.details["automatic"], event.details["figure"], event.details["k"],
            event.details["n"]) == ("system", True, "sensitivity", 0, 10)
    assert len(mailoutbox) == 1 and "Hillside Clinic" in mailoutbox[0].body
    assert pause_falling_clinics() == 0 and len(mailoutbox) == 1  # paused: not again


def test_a_live_clinic_within_its_floors_stays_live(clinic, staff, radiologist, version, settings):

    settings.CXR_LOCAL_ROLLING_CASES = 20
    services.change_state(clinic=clinic, version=version, state="live", actor=Actor.system())
    for number in range(4):
        covid = number < 2
        case = classified(make_case(clinic, staff, mrn=f"K-{number}"), version,
                          {"covid": 0.9, "normal": 0.05, "viral_pneumonia": 0.05} if covid else
                          {"covid": 0.1, "normal": 0.85, "viral_pneumonia": 0.05})
        sign_review(case=case, reviewer=radiologist, finding="covid" if covid else "normal")
    assert pause_falling_clinics() == 0 and ClinicAIState.objects.get().state == "live"
