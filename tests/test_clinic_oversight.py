"""Oversight per clinic: weekly figures worked out by hand, a clinic whose override rate jumps is
flagged, audited and mailed about once, and nobody sees the figures of a clinic they cannot see."""

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import AuditEvent, Case, Clinic, Review
from cases.oversight.clinics import week_start, weekly_figures
from cases.oversight.drift import check_clinic_drift
from cxrsite.celery import app
from tests.conftest import make_user
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version

OVERSIGHT = reverse("audit:oversight")
PER_CLINIC = reverse("audit:oversight_clinics")


def age_for(weeks_ago: int) -> timedelta:
    """An age that puts a case an hour into a week, whatever the time of the week the test runs."""
    monday = timezone.make_aware(datetime.combine(week_start(timezone.localdate()), time.min))
    return timezone.now() - (monday + timedelta(hours=1) - timedelta(weeks=weeks_ago))


def reviewed_case(clinic, staff, radiologist, *, mrn: str, weeks_ago: int, overridden: bool,
                  label: str = "normal", minutes_to_review: int = 30) -> Case:
    case = make_case(clinic, staff, mrn=mrn, age=age_for(weeks_ago))
    prediction = predict(case, label)
    finding = "covid" if overridden else label
    review = Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding=finding,
                                   agreed=not overridden, note="override" if overridden else "")
    Review.objects.filter(pk=review.pk).update(signed_at=case.created + timedelta(minutes=minutes_to_review))
    Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)
    return case


def weeks_of_reviews(clinic, staff, radiologist, overrides_per_week: dict[int, int], per_week: int = 10):
    for weeks_ago, overrides in overrides_per_week.items():
        for number in range(per_week):
            reviewed_case(clinic, staff, radiologist, mrn=f"{clinic.code}-{weeks_ago}-{number}",
                          weeks_ago=weeks_ago, overridden=number < overrides)


@pytest.fixture
def jump(clinic, other_clinic, staff, other_staff, radiologist, other_radiologist, settings):
    """Hillside: one override in ten for four weeks, then eight in ten this week. Riverside: steady."""
    settings.CXR_DRIFT_MIN_CASES, settings.CXR_DRIFT_BASELINE_WEEKS = 10, 8
    weeks_of_reviews(clinic, staff, radiologist, {4: 1, 3: 1, 2: 1, 1: 1, 0: 8})
    weeks_of_reviews(other_clinic, other_staff, other_radiologist, {4: 1, 3: 1, 2: 1, 1: 1, 0: 1})


def test_the_weekly_figures_equal_a_small_example_worked_out_by_hand(clinic, staff, radiologist):
    # This week: three cases, two reviewed (one overridden, after 10 and 30 minutes), one COVID-19 suggestion.
    reviewed_case(clinic, staff, radiologist, mrn="A", weeks_ago=0, overridden=False, minutes_to_review=10)
    reviewed_case(clinic, staff, radiologist, mrn="B", weeks_ago=0, overridden=True, minutes_to_review=30)
    predict(make_case(clinic, staff, mrn="C", age=age_for(0)), "covid")
    # Last week: one case, not yet predicted.
    make_case(clinic, staff, mrn="D", age=age_for(1))
    [hillside] = weekly_figures(Clinic.objects.all(), weeks=3)
    earlier, last, this = hillside.weeks
    assert this.start == week_start(timezone.localdate())
    assert (earlier.cases, last.cases, last.predicted) == (0, 1, 0)
    assert (this.cases, this.predicted, this.covid_suggested) == (3, 3, 1)
    assert (this.reviewed, this.agreed, this.first_reviews, this.overridden) == (2, 1, 2, 1)
    assert this.turnaround == timedelta(minutes=20)
    assert [text for text, _ in this.cells()] == ["50.0%", "50.0%", "33.3%"]
    assert this.gate_refusals == 0 and hillside.refusals_by_reason == {}


def test_gate_refusals_are_counted_per_clinic_week_and_reason(client, administrator, clinic, other_clinic, staff,
                                                              other_staff):
    for mrn, reason in (("N1", "not_radiograph"), ("N2", "not_radiograph"), ("L1", "not_frontal")):
        case = make_case(clinic, staff, mrn=mrn, age=age_for(0))
        Case.objects.filter(pk=case.pk).update(gate_reason=reason, status=Case.Status.PREDICTED)
    other = make_case(other_clinic, other_staff, mrn="R1", age=age_for(0))
    Case.objects.filter(pk=other.pk).update(gate_reason="blank", status=Case.Status.PREDICTED)
    hillside, riverside = sorted(weekly_figures(Clinic.objects.all(), weeks=2), key=lambda cw: cw.clinic.name)
    assert hillside.weeks[-1].gate_refusals == 3 and riverside.weeks[-1].gate_refusals == 1
    assert hillside.refusals_by_reason == {"not_frontal": 1, "not_radiograph": 2}
    client.force_login(administrator)
    page = client.get(PER_CLINIC).content.decode()
    assert "This does not look like a radiograph" in page and "(2)" in page


def test_a_clinic_whose_weekly_override_rate_jumps_is_flagged_audited_and_mailed_once(
        jump, clinic, other_clinic, administrator):
    administrator.email = "oversight@hospital.example"
    administrator.save()
    assert check_clinic_drift() >= 1
    flags = AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_FLAGGED)
    assert {event.clinic for event in flags} == {clinic}
    override = flags.get(details__metric="override_rate")
    assert override.details["week"] == week_start(timezone.localdate()).isoformat()
    assert override.details["rate"] == 0.8 and override.details["high"] < 0.8
    [message] = mail.outbox
    assert message.to == ["oversight@hospital.example"]
    assert "Hillside Clinic: override rate 80.0%" in message.body and "Riverside" not in message.body

    assert check_clinic_drift() == 0  # the next beat run: nothing new to say
    assert len(mail.outbox) == 1 and AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_FLAGGED).count() == \
        flags.count()


def test_the_oversight_page_marks_the_flagged_clinic_and_week(client, administrator, jump, clinic, other_clinic):
    client.force_login(administrator)
    response = client.get(PER_CLINIC)
    page = response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    hillside = page[page.index('id="clinic-%d"' % clinic.pk):page.index('id="clinic-%d"' % other_clinic.pk)]
    riverside = page[page.index('id="clinic-%d"' % other_clinic.pk):]
    assert "flagged" in hillside and "80.0% <span" in hillside
    assert "flagged" not in riverside.split("</section>")[0]
    pause_link = reverse("audit:validation_clinic", args=[clinic.pk])
    assert 'data-testid="propose-pause"' in hillside and pause_link in hillside
    assert 'data-testid="propose-pause"' not in riverside.split("</section>")[0]


def test_the_drift_check_runs_in_beat_with_a_task_the_worker_knows():
    import cases.tasks  # noqa: F401  (registers the tasks, as the worker's autodiscovery does)
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["check-clinic-drift"]
    assert entry["task"] == "cases.tasks.check_clinic_drift" and entry["task"] in app.tasks


def test_another_clinics_figures_are_never_shown_to_someone_who_cannot_see_that_clinic(
        client, jump, clinic, other_clinic, one_clinic_auditor):
    trial = trial_version("shadow-v2")
    served_model_version()
    for case in Case.objects.filter(clinic=other_clinic):
        trial_predict(case, "covid", version=trial)
    client.force_login(one_clinic_auditor)
    page = client.get(OVERSIGHT).content.decode()
    assert "Hillside Clinic" in page and "Riverside" not in page
    assert "0 reviewed cases scored by both" in page  # the trial only scored Riverside's
    assert "50 (50 with a radiologist finding)" in page  # Hillside's 50 predictions, not all 100
    per_clinic = client.get(PER_CLINIC).content.decode()
    assert 'id="clinic-%d"' % clinic.pk in per_clinic and "Riverside" not in per_clinic
    for url in (OVERSIGHT, PER_CLINIC, reverse("audit:oversight_chart")):
        assert client.get(url, {"clinic": other_clinic.pk}).status_code == 404


def test_an_administrator_can_narrow_the_page_to_one_clinic(client, administrator, jump, clinic, other_clinic):
    client.force_login(administrator)
    page = client.get(PER_CLINIC, {"clinic": other_clinic.pk}).content.decode()
    assert 'id="clinic-%d"' % other_clinic.pk in page and 'id="clinic-%d"' % clinic.pk not in page
    assert "50 (50 with a radiologist finding)" in client.get(OVERSIGHT, {"clinic": other_clinic.pk}).content.decode()


@pytest.mark.parametrize("url", [OVERSIGHT, PER_CLINIC])
def test_the_pages_cost_the_same_number_of_queries_with_more_cases_weeks_and_trial_predictions(
        client, administrator, clinic, other_clinic, staff, radiologist, other_staff, other_radiologist, url):
    served_model_version()
    trial = trial_version("shadow-v2")
    client.force_login(administrator)
    client.get(url)  # warm-up: nothing in the figures depends on it

    def grow(weeks_ago: int, per_clinic: int):
        for who, owner, reviewer in ((clinic, staff, radiologist), (other_clinic, other_staff, other_radiologist)):
            for number in range(per_clinic):
                case = reviewed_case(who, owner, reviewer, mrn=f"{who.code}-{weeks_ago}-{number}",
                                     weeks_ago=weeks_ago, overridden=number % 3 == 0)
                trial_predict(case, "covid", version=trial)

    grow(0, 2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for weeks_ago in (0, 1, 3):
        grow(weeks_ago, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
