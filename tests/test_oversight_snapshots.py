"""The oversight pages read figures that beat computed (so a page costs one row at 100,000 cases),
say how old they are, never show figures older than the limit or taken under other model
versions, and never give one clinic's figures to someone who cannot see that clinic."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import cases.tasks  # noqa: F401  (registers the tasks, as the worker's autodiscovery does)
from cases.oversight import snapshots
from cases.models import Case, OversightSnapshot, Review
from cxrsite.celery import app
from tests.factories import make_case, predict, served_model_version, trial_version

OVERSIGHT = reverse("audit:oversight")
PER_CLINIC = reverse("audit:oversight_clinics")
THRESHOLDS = reverse("audit:operating_points")


def reviewed(clinic, staff, radiologist, mrn: str) -> Case:
    case = make_case(clinic, staff, mrn=mrn)
    prediction = predict(case, "normal", version=served_model_version())
    Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="normal", agreed=True)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)
    return case


@pytest.fixture
def two_reviewed(clinic, staff, radiologist):
    for number in range(2):
        reviewed(clinic, staff, radiologist, f"R{number}")


def test_the_page_shows_beats_figures_and_says_when_they_were_computed(client, administrator, two_reviewed, clinic,
                                                                      staff, radiologist):
    assert snapshots.refresh() == 3 * (1 + 1)  # three pages, for all clinics and for the one clinic
    reviewed(clinic, staff, radiologist, "LATE")  # after beat's run: not counted until the next one
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "2 (2 with a radiologist finding)" in page and "Figures as of" in page
    assert "computed in the background every 5 minutes" in page
    assert "Figures as of" in client.get(PER_CLINIC).content.decode()
    snapshots.refresh()
    assert "3 (3 with a radiologist finding)" in client.get(OVERSIGHT).content.decode()


def test_reading_beats_figures_costs_the_same_few_queries_however_many_cases(client, administrator, clinic, staff,
                                                                             radiologist):
    client.force_login(administrator)
    reviewed(clinic, staff, radiologist, "A")
    snapshots.refresh()
    with CaptureQueriesContext(connection) as small:
        client.get(OVERSIGHT)
    for number in range(12):
        reviewed(clinic, staff, radiologist, f"B{number}")
    snapshots.refresh()
    with CaptureQueriesContext(connection) as large:
        assert "13 (13 with a radiologist finding)" in client.get(OVERSIGHT).content.decode()
    assert len(large.captured_queries) == len(small.captured_queries)


def test_figures_older_than_the_limit_are_not_shown_the_page_computes_its_own(client, administrator, two_reviewed,
                                                                             clinic, staff, radiologist, settings):
    snapshots.refresh()
    reviewed(clinic, staff, radiologist, "LATE")
    OversightSnapshot.objects.update(
        computed_at=timezone.now() - timedelta(seconds=settings.CXR_OVERSIGHT_MAX_AGE_SECONDS + 5))
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "3 (3 with a radiologist finding)" in page and "Figures computed now" in page


def test_a_version_put_on_trial_after_beats_run_is_shown_at_once(client, administrator, two_reviewed):
    snapshots.refresh()
    trial_version("shadow-v9")
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "shadow-v9 against served-v1" in page and "Figures computed now" in page


def test_figures_an_older_release_wrote_are_ignored(client, administrator, two_reviewed):
    snapshots.refresh()
    OversightSnapshot.objects.update(payload=b"not a pickle")
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "2 (2 with a radiologist finding)" in page and "Figures computed now" in page


def test_turned_off_the_pages_always_compute_their_own(client, administrator, two_reviewed, clinic, staff,
                                                       radiologist, settings):
    snapshots.refresh()
    reviewed(clinic, staff, radiologist, "LATE")
    settings.CXR_OVERSIGHT_REFRESH_SECONDS = 0
    client.force_login(administrator)
    assert "3 (3 with a radiologist finding)" in client.get(OVERSIGHT).content.decode()


def test_beats_figures_of_one_clinic_never_reach_someone_who_cannot_see_it(
        client, two_reviewed, clinic, other_clinic, other_staff, other_radiologist, one_clinic_auditor):
    for number in range(3):
        reviewed(other_clinic, other_staff, other_radiologist, f"O{number}")
    snapshots.refresh()
    client.force_login(one_clinic_auditor)
    page = client.get(OVERSIGHT).content.decode()
    assert "2 (2 with a radiologist finding)" in page and "Figures as of" in page and "Riverside" not in page
    per_clinic = client.get(PER_CLINIC).content.decode()
    assert 'id="clinic-%d"' % clinic.pk in per_clinic and 'id="clinic-%d"' % other_clinic.pk not in per_clinic
    assert client.get(OVERSIGHT, {"clinic": other_clinic.pk}).status_code == 404


def test_figures_taken_under_other_versions_are_dropped_at_the_next_refresh(two_reviewed, other_clinic):
    assert snapshots.refresh() == 3 * (1 + 2)  # three pages: every clinic, and each of the two
    before = set(OversightSnapshot.objects.values_list("key", flat=True))
    trial_version("shadow-v9")
    assert snapshots.refresh() == 9
    after = set(OversightSnapshot.objects.values_list("key", flat=True))
    assert len(after) == 9 and not after & before


def test_beat_refreshes_the_figures_on_the_upkeep_queue_with_a_task_the_worker_knows(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-oversight"]
    assert entry["task"] == "cases.tasks.refresh_oversight" and entry["task"] in app.tasks
    assert entry["schedule"] == settings.CXR_OVERSIGHT_REFRESH_SECONDS < settings.CXR_OVERSIGHT_MAX_AGE_SECONDS
    assert settings.CELERY_TASK_ROUTES["cases.tasks.refresh_oversight"] == {"queue": "upkeep"}


def test_the_thresholds_page_shows_beats_figures_and_says_when_they_were_computed(client, administrator,
                                                                                  two_reviewed, clinic, staff,
                                                                                  radiologist):
    snapshots.refresh()
    reviewed(clinic, staff, radiologist, "LATE")  # after beat's run: not counted until the next one
    client.force_login(administrator)
    page = client.get(THRESHOLDS).content.decode()
    assert "<td>0 / 2</td>" in page and "Figures as of" in page
    snapshots.refresh()
    assert "<td>0 / 3</td>" in client.get(THRESHOLDS).content.decode()


def test_thresholds_fitted_under_another_target_are_not_shown_after_a_restart(client, administrator, two_reviewed,
                                                                               clinic, staff, radiologist, settings):
    snapshots.refresh()
    reviewed(clinic, staff, radiologist, "LATE")
    settings.CXR_OPERATING_POINT_SENSITIVITY = 0.9
    client.force_login(administrator)
    page = client.get(THRESHOLDS).content.decode()
    assert "<td>0 / 3</td>" in page and "Figures computed now" in page


def test_beats_thresholds_of_one_clinic_never_reach_someone_who_cannot_see_it(
        client, two_reviewed, clinic, other_clinic, other_staff, other_radiologist, one_clinic_auditor):
    for number in range(3):
        reviewed(other_clinic, other_staff, other_radiologist, f"O{number}")
    snapshots.refresh()
    client.force_login(one_clinic_auditor)
    page = client.get(THRESHOLDS).content.decode()
    assert "<td>0 / 2</td>" in page and "Figures as of" in page and "Riverside" not in page
    assert client.get(THRESHOLDS, {"clinic": other_clinic.pk}).status_code == 404
