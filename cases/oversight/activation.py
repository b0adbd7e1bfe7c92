"""Activating a model version: what the administrator is shown, what refuses it, what the audit keeps.

The confirmation page shows the version's trial health and its comparison with the served version,
and its form posts a digest of exactly those figures. On confirmation they are computed again: if
they differ (a review amended, a trial prediction written, another version activated meanwhile) the
activation is refused, "the evidence changed since you opened this page", and the page shows the
new figures; otherwise `model_activated` records them, so the audit holds what was shown.

A version is refused outright when it has never classified a case on this deployment's workers
(registration checked the file on the machine that registered it; only a worker's prediction shows
that the workers have it and can run it), or when its trial failed on more than
CXR_TRIAL_MAX_FAILURE_PERCENT of the cases it tried. When the served version agrees with the
radiologists more often by more than chance, the administrator has to say so to go on.
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from classifier.models import ModelVersion
from classifier.registry import activate_version, served_version

from .trial_health import TrialHealth, trial_health
from .trials import TrialComparison, compare_trial

EVIDENCE_CHANGED = gettext_noop("The evidence changed since you opened this page: the figures below are the new "
                                "ones. Read them again before you activate.")


@dataclass(frozen=True)
class ActivationEvidence:
    version: ModelVersion
    served: ModelVersion
    trial: TrialComparison | None  # None when the version is the served one
    health: TrialHealth
    details: dict  # every figure the page shows, as the audit event records it

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.details, sort_keys=True).encode()).hexdigest()

    @property
    def against(self) -> bool:
        return self.trial is not None and self.trial.comparison.against_trial

    @property
    def refusal(self) -> str | None:
        name, health = self.version.name, self.health
        if self.version.pk == self.served.pk:
            return gettext("%(name)s is already the served version.") % {"name": name}
        bound = settings.CXR_TRIAL_MAX_FAILURE_PERCENT
        if health.failure_percent is not None and health.failure_percent > bound:
            return gettext("%(name)s's trial failed on %(failures)s since it started: more than the %(bound)s%% "
                           "allowed (CXR_TRIAL_MAX_FAILURE_PERCENT). The audit trail's trial_failed events name the "
                           "cases; once served, a version that fails on the workers fails every case.") % {
                "name": name, "failures": health.failures_text, "bound": f"{bound:g}"}
        if not health.classified_any:
            return gettext("%(name)s has not classified any case on this deployment's workers. Put it on trial (and "
                           "score the reviewed past cases) first, so the workers show that they can load and run "
                           "it.") % {"name": name}
        return None


class ActivationRefused(Exception):
    def __init__(self, message: str, evidence: ActivationEvidence, *, status: int = 409):
        super().__init__(message)
        self.evidence, self.status = evidence, status


def activation_evidence(version: ModelVersion) -> ActivationEvidence:
    served = served_version()
    trial = compare_trial(version, served=served) if version.pk != served.pk else None
    health = trial.health if trial is not None else trial_health(version)
    details = {"compared_with": served.name, "trial_health": health.as_details()}
    if trial is not None:
        details |= {**trial.comparison.as_details(), "gate_refused_left_out": trial.gate_refused,
                    "disagreements": trial.disagreement_count,
                    "disagreements_shown": [d.case_public_id for d in trial.disagreements]}
    return ActivationEvidence(version, served, trial, health, details)


def confirm_activation(*, version: ModelVersion, shown_digest: str, against_acknowledged: bool,
                       user) -> ActivationEvidence:
    """Activate `version` if the figures are still those shown (`shown_digest`) and nothing refuses
    it; raises ActivationRefused (with the figures as they are now) otherwise."""
    evidence = activation_evidence(version)
    if shown_digest != evidence.digest:
        raise ActivationRefused(gettext(EVIDENCE_CHANGED), evidence)
    if evidence.refusal:
        raise ActivationRefused(evidence.refusal, evidence)
    if evidence.against and not against_acknowledged:
        raise ActivationRefused(gettext("The evidence is against this version: tick the box to say you activate it "
                                        "all the same."), evidence, status=400)
    details = {**evidence.details, **({"activated_against_the_evidence": True} if evidence.against else {})}
    activate_version(version, user=user, evidence=details)
    return evidence
