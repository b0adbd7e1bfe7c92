"""Each silent trial's health: its scope, and what it has done since it started.

A trial that fails every case (a file the workers cannot load) looked exactly like one just
started: its failures were only in the audit trail. Shown on the oversight page, the versions
list and the activation confirmation, and read by the activation rule (oversight.activation).
Counted since the version's latest trial started (`ModelVersion.trial_started`; all its history
when no start is recorded): trial predictions written, and `trial_failed` events.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext, ngettext

from classifier.models import ModelVersion

from ..models import AuditEvent, Clinic, Prediction
from .versions import in_clinics


@dataclass(frozen=True)
class TrialHealth:
    on_trial: bool
    started: datetime | None
    clinic_codes: list[str]  # empty: every clinic
    unknown_codes: list[str]  # codes that name no clinic: the trial scores nothing there
    sample_percent: int
    predictions: int
    failures: int
    classified_any: bool  # the version has a prediction of any case, on trial or served

    @property
    def attempts(self) -> int:
        return self.predictions + self.failures

    @property
    def failure_percent(self) -> float | None:
        return 100 * self.failures / self.attempts if self.attempts else None

    @property
    def failures_text(self) -> str:
        if not self.failures:
            return gettext("none")
        return gettext("%(failures)s of %(attempts)s cases tried (%(percent)s%%)") % {
            "failures": self.failures, "attempts": self.attempts, "percent": f"{self.failure_percent:.1f}"}

    @property
    def clinics_text(self) -> str:
        if not self.clinic_codes:
            return gettext("every clinic")
        if self.unknown_codes:
            return gettext("%(codes)s (no clinic has the code %(unknown)s)") % {
                "codes": ", ".join(self.clinic_codes), "unknown": ", ".join(self.unknown_codes)}
        return ", ".join(self.clinic_codes)

    @property
    def summary(self) -> str:
        """One line for a list: scope, predictions and failures."""
        values = {"clinics": self.clinics_text, "percent": self.sample_percent, "count": self.predictions,
                  "failures": self.failures_text}
        if self.started:
            return ngettext("%(clinics)s, %(percent)s%% of new cases; since %(started)s: %(count)s prediction, "
                            "failures %(failures)s",
                            "%(clinics)s, %(percent)s%% of new cases; since %(started)s: %(count)s predictions, "
                            "failures %(failures)s", self.predictions) % {**values,
                                                                          "started": f"{self.started:%Y-%m-%d %H:%M}"}
        return ngettext("%(clinics)s, %(percent)s%% of new cases; so far: %(count)s prediction, failures %(failures)s",
                        "%(clinics)s, %(percent)s%% of new cases; so far: %(count)s predictions, failures %(failures)s",
                        self.predictions) % values

    def as_details(self) -> dict:
        return {"on_trial": self.on_trial, "started": self.started.isoformat() if self.started else None,
                "clinics": self.clinic_codes, "unknown_clinics": self.unknown_codes,
                "sample_percent": self.sample_percent, "predictions": self.predictions, "failures": self.failures,
                "classified_any": self.classified_any}


def trial_health(version: ModelVersion, clinics=None) -> TrialHealth:
    """`clinics` (a queryset, None for every clinic) limits the counts to those clinics' cases."""
    codes = sorted(version.trial_clinic_codes())
    known = set(Clinic.objects.filter(code__in=codes).values_list("code", flat=True))
    predictions = in_clinics(Prediction.objects.filter(model_version=version, trial=True), "case__", clinics)
    failures = in_clinics(AuditEvent.objects.filter(action=AuditEvent.Action.TRIAL_FAILED,
                                                    details__model_version=version.name), "", clinics)
    if version.trial_started is not None:
        predictions = predictions.filter(created__gte=version.trial_started)
        failures = failures.filter(time__gte=version.trial_started)
    return TrialHealth(
        on_trial=version.on_trial, started=version.trial_started, clinic_codes=codes,
        unknown_codes=[code for code in codes if code not in known], sample_percent=version.trial_sample_percent,
        predictions=predictions.count(), failures=failures.count(),
        classified_any=Prediction.objects.filter(model_version=version).exists())
