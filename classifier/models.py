import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy


class ModelVersion(models.Model):
    """A trained network the worker can serve. Exactly one is active at a time.

    Any number can be "on trial": the worker also classifies new cases with them, silently
    (stored, compared with the radiologists on the oversight page, never shown), so a version
    is measured on this deployment's own cases before anyone switches to it.
    """

    name = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=40)
    file = models.CharField(max_length=500, help_text="Path of the model file on the worker machines")
    sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    training_data = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=False)
    on_trial = models.BooleanField("on trial", default=False)
    trial_sample_percent = models.PositiveSmallIntegerField(
        "trial sample (%)", default=100, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of new cases the trial version also classifies")
    trial_clinics = models.CharField(
        max_length=500, blank=True,
        help_text="Codes of the clinics whose cases the trial covers, comma-separated; blank: every clinic")
    # When the latest trial began: its health (predictions, failures) is counted from here.
    trial_started = models.DateTimeField("trial started", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = gettext_lazy("model version")
        verbose_name_plural = gettext_lazy("model versions")
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_model")]

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture})"

    def clean(self):
        if self.active and self.on_trial:
            raise ValidationError({"on_trial": "The active version is served; it cannot also be on trial."})

    def save(self, *args, **kwargs):
        """A version put on trial (from off trial, or new) gets a fresh `trial_started`; one read of
        the stored row tells which, since the admin's form and its actions both save."""
        if self.on_trial and not (self.pk and type(self).objects.filter(pk=self.pk, on_trial=True).exists()):
            self.trial_started = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "trial_started"}
        super().save(*args, **kwargs)

    def trial_clinic_codes(self) -> set[str]:
        return {code.strip() for code in self.trial_clinics.split(",") if code.strip()}

    def trial_covers(self, *, clinic_code: str, case_key: uuid.UUID) -> bool:
        """Whether this trial scores a case. The sample is decided by the case's public id, not
        at random, so every delivery and every re-scoring run makes the same choice."""
        codes = self.trial_clinic_codes()
        if codes and clinic_code not in codes:
            return False
        return case_key.int % 100 < self.trial_sample_percent
