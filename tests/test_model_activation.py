"""Activation is refused for a version that fails on the workers or never ran on them, the confirmation
posts a digest of the figures shown and is refused when they changed, and the audit trail keeps
exactly what the administrator saw (issue 33, findings 1 and 4)."""

import hashlib
import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from cases.audit.actors import Actor
from cases.classification import trials
from cases.models import AuditEvent, Case, Review
from cases.oversight.activation import EVIDENCE_CHANGED, activation_evidence
from cases.reviews.services import amend_review
from classifier.models import ModelVersion
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version
from tests.test_trial_comparison import shown_evidence

ACTIVATED = AuditEvent.Action.MODEL_ACTIVATED


def confirm_url(version) -> str:
    return reverse("audit:confirm_activation", args=[version.pk])


def reviewed_pairs(clinic, staff, radiologist, served, trial, pairs, *, prefix="MRN"):
    """One reviewed case per (finding, served label, trial label), each scored by both versions."""
    reviews = []
    for number, (finding, served_label, trial_label) in enumerate(pairs):
        case = make_case(clinic, staff, mrn=f"{prefix}-{number}")
        prediction = predict(case, served_label, version=served)
        trial_predict(case, trial_label, version=trial)
        reviews.append(Review.objects.create(case=case, prediction=prediction, reviewer=radiologist, finding=finding,
                                             agreed=finding == served_label))
        Case.objects.filter(pk=case.pk).update(status=Case.Status.REVIEWED)
    return reviews


@pytest.fixture
def broken_trial(clinic, staff, tmp_path):
    """A trial version whose file does not load, run by the real trial task on twelve cases."""
    served = served_model_version()
    broken = trial_version("random-bytes")
    (tmp_path / "random.tflite").write_bytes(b"\x13" * 3000)
    ModelVersion.objects.filter(pk=broken.pk).update(file=str(tmp_path / "random.tflite"))
    for number in range(12):
        case = make_case(clinic, staff, mrn=f"B-{number}")
        predict(case, "normal", version=served)
        assert trials.score_with_trial(case_id=case.pk, version_id=broken.pk, worker_host="worker-1") == "failed"
    return broken


def test_a_version_whose_trial_failed_on_every_case_cannot_be_activated(client, administrator, broken_trial):
    client.force_login(administrator)
    page = client.get(confirm_url(broken_trial)).content.decode()
    assert "random-bytes cannot be activated" in page
    assert "failed on 12 of 12 cases tried (100.0%)" in page
    assert 'name="evidence"' not in page  # no form to confirm
    digest = activation_evidence(broken_trial).digest  # even a hand-made post with the right figures
    response = client.post(confirm_url(broken_trial), {"evidence": digest})
    assert response.status_code == 409 and "cannot be activated" in response.content.decode()
    assert not ModelVersion.objects.get(pk=broken_trial.pk).active
    assert not AuditEvent.objects.filter(action=ACTIVATED).exists()


def test_the_failure_bound_is_a_setting(client, administrator, clinic, staff, settings, tmp_path):
    served = served_model_version()
    trial = trial_version("mostly-fine")
    for number in range(39):
        case = make_case(clinic, staff, mrn=f"OK-{number}")
        predict(case, "normal", version=served)
        trial_predict(case, "normal", version=trial)
    failing = make_case(clinic, staff, mrn="FAILS")
    ModelVersion.objects.filter(pk=trial.pk).update(file=str(tmp_path / "missing-on-this-worker.tflite"))
    trials.score_with_trial(case_id=failing.pk, version_id=trial.pk, worker_host="worker-1")  # 1 of 40: 2.5%
    client.force_login(administrator)
    settings.CXR_TRIAL_MAX_FAILURE_PERCENT = 2
    assert "failed on 1 of 40 cases tried (2.5%)" in client.get(confirm_url(trial)).content.decode()
    assert client.post(confirm_url(trial), {"evidence": activation_evidence(trial).digest}).status_code == 409
    settings.CXR_TRIAL_MAX_FAILURE_PERCENT = 5
    page = client.get(confirm_url(trial))
    assert client.post(confirm_url(trial), {"evidence": shown_evidence(page)}).status_code == 302
    assert ModelVersion.objects.get(pk=trial.pk).active


def test_a_version_that_never_classified_a_case_here_cannot_be_activated(client, administrator, db):
    served_model_version()
    untried = ModelVersion.objects.create(name="Untried-V4", architecture="tiny", file="x.tflite", sha256="4" * 64)
    client.force_login(administrator)
    page = client.get(confirm_url(untried)).content.decode()
    assert escape("Untried-V4 has not classified any case on this deployment's workers") in page
    assert client.post(confirm_url(untried), {"evidence": activation_evidence(untried).digest}).status_code == 409
    assert not ModelVersion.objects.get(pk=untried.pk).active


def test_the_version_served_before_can_be_activated_again(client, administrator, clinic, staff):
    earlier = served_model_version("earlier-v1")
    predict(make_case(clinic, staff, mrn="SERVED-BY-V1"), "normal", version=earlier)
    served_model_version("later-v2")
    client.force_login(administrator)
    page = client.get(confirm_url(earlier))
    response = client.post(confirm_url(earlier), {"evidence": shown_evidence(page)}, follow=True)
    assert "earlier-v1 is now the active model" in response.content.decode()  # its case kept, not "Earlier-v1"
    assert ModelVersion.objects.get(pk=earlier.pk).active


def test_confirming_after_the_evidence_changed_is_refused_and_the_audit_keeps_what_was_then_shown(
        client, administrator, clinic, staff, radiologist):
    served, trial = served_model_version(), trial_version("shadow-v2")
    reviews = reviewed_pairs(clinic, staff, radiologist, served, trial, [
        ("covid", "covid", "covid"), ("normal", "normal", "normal"), ("normal", "covid", "normal"),
        ("viral_pneumonia", "normal", "viral_pneumonia")])
    client.force_login(administrator)
    opened = client.get(confirm_url(trial))
    assert "50.0% (2/4" in opened.content.decode() and "100.0% (4/4" in opened.content.decode()

    amend_review(review=reviews[0], reviewer=radiologist, finding="normal", reason="second look",
                 actor=Actor.of_user(radiologist))  # meanwhile, a radiologist amends a finding
    refused = client.post(confirm_url(trial), {"evidence": shown_evidence(opened)})
    page = refused.content.decode()
    assert refused.status_code == 409 and EVIDENCE_CHANGED in page
    assert "25.0% (1/4" in page and "75.0% (3/4" in page  # the new figures, to read again
    assert not ModelVersion.objects.get(pk=trial.pk).active
    assert not AuditEvent.objects.filter(action=ACTIVATED).exists()

    assert client.post(confirm_url(trial), {"evidence": shown_evidence(refused)}).status_code == 302
    evidence = AuditEvent.objects.get(action=ACTIVATED).details["evidence"]
    assert hashlib.sha256(json.dumps(evidence, sort_keys=True).encode()).hexdigest() == shown_evidence(refused)
    assert (evidence["served"]["agreement"], evidence["trial"]["agreement"]) == ({"k": 1, "n": 4}, {"k": 3, "n": 4})
    assert evidence["trial_health"]["predictions"] == 4 and evidence["trial_health"]["failures"] == 0


def test_a_version_the_evidence_is_against_needs_an_explicit_acknowledgement(client, administrator, clinic, staff,
                                                                             radiologist):
    served, worse = served_model_version(), trial_version("worse-v3")
    reviewed_pairs(clinic, staff, radiologist, served, worse, [("normal", "normal", "covid")] * 8)
    client.force_login(administrator)
    page = client.get(confirm_url(worse))
    assert "The evidence is against worse-v3." in page.content.decode()
    assert "the served version agrees more often" in page.content.decode()
    response = client.post(confirm_url(worse), {"evidence": shown_evidence(page)})
    assert response.status_code == 400 and not ModelVersion.objects.get(pk=worse.pk).active
    response = client.post(confirm_url(worse), {"evidence": shown_evidence(page), "against_acknowledged": "1"})
    assert response.status_code == 302 and ModelVersion.objects.get(pk=worse.pk).active
    assert AuditEvent.objects.get(action=ACTIVATED).details["evidence"]["activated_against_the_evidence"] is True
