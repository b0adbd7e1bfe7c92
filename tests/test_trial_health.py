"""What a silent trial shows and counts (issue 33, findings 2, 3, 5 and 8): its scope and failures on
the oversight page and the versions list, clinics picked from those that exist, the comparison
within the trial's scope and without the films the input gate refused, the gate run truthfully on
trial predictions, and trial rows marked in the predictions list."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import storage
from cases.classification import trials
from cases.models import AuditEvent, Case, Prediction, Review
from cases.oversight.trials import compare_trial
from classifier import gate
from classifier.artifacts import COMMITTED_MODEL, stored_path
from classifier.models import ModelVersion
from classifier.preprocessing import load_grayscale
from cxrsite.testing.stack import permissive_gate
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version

OVERSIGHT = reverse("audit:oversight")
VERSIONS = reverse("admin:classifier_modelversion_changelist")


def reviewed(case: Case, prediction: Prediction, reviewer, finding: str) -> None:
    Review.objects.create(case=case, prediction=prediction, reviewer=reviewer, finding=finding,
                          agreed=finding == prediction.label)
    Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)


def rows(page) -> str:
    """The rows of an admin list, without its filters."""
    return page.content.decode().split("<tbody>")[1].split("</tbody>")[0]


def runs_for_real(version: ModelVersion) -> ModelVersion:
    ModelVersion.objects.filter(pk=version.pk).update(file=stored_path(COMMITTED_MODEL), sha256="1" * 64)
    version.refresh_from_db()
    return version


@pytest.fixture
def failing_trial(clinic, staff, tmp_path):
    """On trial at Hillside for a quarter of new cases since an hour ago: two predictions, three failures."""
    served = served_model_version()
    trial = trial_version("shadow-v2", trial_clinics="hillside", trial_sample_percent=25,
                          trial_started=timezone.now() - timedelta(hours=1))
    for number in range(2):
        case = make_case(clinic, staff, mrn=f"OK-{number}")
        trial_predict(case, "normal", version=trial)
    ModelVersion.objects.filter(pk=trial.pk).update(file=str(tmp_path / "gone.tflite"))
    for number in range(3):
        case = make_case(clinic, staff, mrn=f"FAIL-{number}")
        predict(case, "normal", version=served)
        assert trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="w1") == "failed"
    return trial


def test_the_oversight_page_shows_each_trials_scope_and_its_failures_since_it_started(client, administrator,
                                                                                   failing_trial):
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    health = page[page.index('data-testid="trial-health"'):]
    for text in ("hillside; 25% of new cases", "Trial predictions since</dt>\n  <dd class=\"col-sm-8 col-lg-9\">2",
                 "3 of 5 cases tried (60.0%)"):
        assert text in health, text


def test_a_just_started_trial_shows_no_failures_and_the_versions_list_shows_each_trial(client, administrator,
                                                                                        failing_trial):
    fresh = trial_version("fresh-v3")
    ModelVersion.objects.filter(pk=fresh.pk).update(trial_started=timezone.now())
    client.force_login(administrator)
    listing = client.get(VERSIONS).content.decode()
    assert "hillside, 25% of new cases; since" in listing and "2 predictions, failures 3 of 5 cases tried" in listing
    assert "every clinic, 100% of new cases; since" in listing and "0 predictions, failures none" in listing


def test_a_trial_clinic_is_picked_from_the_clinics_there_are_and_a_mistyped_code_is_refused(
        client, administrator, clinic, other_clinic):
    candidate = ModelVersion.objects.create(name="candidate-v2", architecture="tiny", file="x", sha256="2" * 64)
    client.force_login(administrator)
    url = reverse("admin:classifier_modelversion_change", args=[candidate.pk])
    form = client.get(url).content.decode()
    assert "Hillside Clinic (hillside)" in form and "Riverside Clinic (riverside)" in form
    response = client.post(url, {"on_trial": "on", "trial_sample_percent": "100", "trial_clinics": ["dmeo"]})
    assert response.status_code == 200 and "No clinic has the code dmeo." in response.content.decode()
    assert not ModelVersion.objects.get(pk=candidate.pk).on_trial
    response = client.post(url, {"on_trial": "on", "trial_sample_percent": "100",
                                 "trial_clinics": ["riverside", "hillside"]})
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.on_trial, candidate.trial_clinics) == (True, "hillside,riverside")
    assert candidate.trial_started is not None  # its health is counted from here


def test_a_code_stored_before_codes_were_checked_is_flagged_on_the_oversight_page(client, administrator, clinic):
    served_model_version()
    trial_version("typo-v2", trial_clinics="dmeo")
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "dmeo (no clinic has the code dmeo): the trial scores no case there" in page
    assert "0 reviewed cases scored by both" in page


def test_the_comparison_counts_only_the_trials_clinics(clinic, other_clinic, staff, other_staff, radiologist,
                                                       other_radiologist):
    served, trial = served_model_version(), trial_version("shadow-v2")
    for owner, reviewer, mrn in ((staff, radiologist, "H-1"), (other_staff, other_radiologist, "R-1")):
        case = make_case(owner.clinics.get(), owner, mrn=mrn)
        reviewed(case, predict(case, "normal", version=served), reviewer, "normal")
        trial_predict(case, "covid", version=trial)
    assert compare_trial(trial, served=served).comparison.cases == 2  # every clinic
    ModelVersion.objects.filter(pk=trial.pk).update(trial_clinics="hillside")  # now covering Hillside only
    trial.refresh_from_db()
    scoped = compare_trial(trial, served=served)
    assert scoped.comparison.cases == 1 and scoped.disagreements[0].case_public_id == str(
        Case.objects.get(patient__mrn="H-1").public_id)


def test_films_the_gate_refused_are_left_out_of_the_comparison_and_the_page_says_so(client, administrator, clinic,
                                                                                     staff, radiologist):
    served, trial = served_model_version(), trial_version("shadow-v2")
    passed = make_case(clinic, staff, mrn="PASSED")
    reviewed(passed, predict(passed, "normal", version=served), radiologist, "normal")
    trial_predict(passed, "normal", version=trial)
    refused = make_case(clinic, staff, mrn="REFUSED")
    prediction = predict(refused, "covid", version=served)
    Prediction.objects.filter(pk=prediction.pk).update(gate_passed=False, gate_reason="not_radiograph")
    reviewed(refused, prediction, radiologist, "other")  # a human read: no suggestion to agree with
    trial_predict(refused, "covid", version=trial)
    result = compare_trial(trial, served=served)
    assert (result.comparison.cases, result.gate_refused) == (1, 1)
    assert result.comparison.served.agreement.text.startswith("100.0% (1/1")
    client.force_login(administrator)
    page = client.get(OVERSIGHT).content.decode()
    assert "left out of the comparison" in page and '<span data-testid="gate-refused">1 such case</span>' in page


@pytest.mark.parametrize("opened", [False, True])
def test_a_trial_prediction_records_the_gate_it_ran_not_a_pass_it_assumed(clinic, staff, settings, tmp_path, opened):
    """The committed gate refuses the tests' synthetic films (they are not radiographs); opened, it passes them."""
    settings.CXR_GATE_PATH = str(permissive_gate(tmp_path)) if opened else ""
    served_model_version()
    case = make_case(clinic, staff)
    trial = runs_for_real(trial_version("shadow-v2"))
    assert trials.score_with_trial(case_id=case.pk, version_id=trial.pk, worker_host="w1") == "predicted"
    row = Prediction.objects.get(case=case, model_version=trial)
    with storage.open_file(case.display_name) as handle:
        verdict = gate.check(load_grayscale(handle.read()), gate_path=settings.CXR_GATE_PATH or gate.COMMITTED_GATE)
    assert verdict.passed is opened
    assert (row.gate_passed, row.gate_reason, row.gate_version) == (verdict.passed, verdict.reason or "",
                                                                    verdict.version)
    event = AuditEvent.objects.get(action=AuditEvent.Action.TRIAL_PREDICTION_WRITTEN)
    assert event.details["gate"]["passed"] is opened


def test_the_predictions_list_marks_trial_rows_and_says_when_the_gate_did_not_run(client, administrator, clinic,
                                                                                 staff):
    served, trial = served_model_version(), trial_version("shadow-v2")
    case = make_case(clinic, staff, mrn="LIST-1")
    shown = predict(case, "normal", version=served)
    Prediction.objects.filter(pk=shown.pk).update(inference_ms=12.345678)
    old_trial_row = trial_predict(case, "covid", version=trial)
    Prediction.objects.filter(pk=old_trial_row.pk).update(gate_passed=None)  # written before trials ran the gate
    client.force_login(administrator)
    listing = reverse("admin:cases_prediction_changelist")
    page = client.get(listing).content.decode()
    assert "silent trial" in page and "served" in page and "not run" in page
    assert "12.3" in page and "12.345678" not in page
    assert "shadow-v2" not in rows(client.get(listing, {"role": "served"}))
    only_trial = rows(client.get(listing, {"role": "trial"}))
    assert "shadow-v2" in only_trial and "served-v1" not in only_trial
    detail = client.get(reverse("admin:cases_prediction_change", args=[old_trial_row.pk])).content.decode()
    title = detail[detail.index("<title>"):detail.index("</title>")]
    assert "COVID-19 by shadow-v2" in title and f"for {case.pk}" not in title  # was "covid for <row id>"
