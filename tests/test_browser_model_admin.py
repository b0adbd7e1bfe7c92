"""The model-version pages an administrator works through at 1366 px (issue 33, item 8): the versions
list with a failing trial, the predictions list, the change form with its clinic list, the oversight
page and the activation confirmation fit the window (no sideways scrolling) with no serious axe-core
violation."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.classification import trials
from cases.models import Case, Review
from classifier.artifacts import TRAINED_DIR
from classifier.models import ModelVersion
from tests.a11y import DESKTOP, blocking_violations, chromium, sign_in  # noqa: F401 (a fixture)
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def failing_trial(clinic, other_clinic, staff, radiologist, tmp_path):
    served = served_model_version("own-20261123-1441-seed42")
    ModelVersion.objects.filter(pk=served.pk).update(metrics=json.loads((TRAINED_DIR / "metrics.json").read_text()),
                                                     training_data="/work/shared/datasets/cxr (split by patient "
                                                                   "group, seed 42; split saved as split.csv)")
    trial = trial_version("paper-20261201-0912-seed42-input70-epochs4", trial_clinics="hillside,riverside",
                          trial_sample_percent=35, trial_started=timezone.now())
    for number in range(3):
        case = make_case(clinic, staff, mrn=f"H-{number}")
        prediction = predict(case, "normal", version=served)
        trial_predict(case, "covid", version=trial)
        Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding="normal", agreed=True)
        Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)
    ModelVersion.objects.filter(pk=trial.pk).update(file=str(tmp_path / "gone.tflite"))
    failing = make_case(clinic, staff, mrn="H-FAILS")
    trials.score_with_trial(case_id=failing.pk, version_id=trial.pk, worker_host="worker-1.clinic.example")
    return trial


def test_the_model_version_pages_fit_1366_px_with_no_serious_violation(live_server, administrator, failing_trial,
                                                                      chromium):  # noqa: F811
    served = ModelVersion.objects.get(active=True)
    urls = [reverse("admin:classifier_modelversion_changelist"),
            reverse("admin:classifier_modelversion_change", args=[failing_trial.pk]),
            reverse("admin:classifier_modelversion_change", args=[served.pk]),
            reverse("admin:cases_prediction_changelist"), reverse("audit:oversight"),
            reverse("audit:confirm_activation", args=[failing_trial.pk])]
    page = chromium.new_context(viewport=DESKTOP).new_page()
    sign_in(page, live_server.url, administrator.username)
    found = []
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        width, window = page.evaluate(SIDEWAYS)
        if width > window:
            found.append(f"{url}: {width} px wide in a {window} px window")
        found += blocking_violations(page, url)
    page.context.close()
    assert found == []
