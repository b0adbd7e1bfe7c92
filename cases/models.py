"""Clinical records: clinics, patients, cases, predictions, reviews and the audit trail.

Public ids are UUIDs so that case URLs reveal nothing about volume or order. The read rules
that several pages share live here, once, on the querysets: `Case.objects.visible_to(user)`
(every page, the admin, the worklist), `newest_first()`, `in_worklist_order()`, and
`Review.objects.in_force()` (the signed review no later review amends).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.expressions import RawSQL

from classifier import labels

from .audit.guard import AppendOnlyError, AppendOnlyQuerySet

SEES_ALL_CLINICS = "cases.view_all_clinics"  # the permission that lifts the per-clinic rule


class ClinicQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ClinicQuerySet":
        """Every clinic for those who see all clinics; otherwise the clinics the user belongs to."""
        if not user.is_authenticated:
            return self.none()
        if user.has_perm(SEES_ALL_CLINICS):
            return self
        return self.filter(members=user)


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    code = models.SlugField(max_length=40, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="clinics", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ClinicQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"
        UNKNOWN = "U", "Unknown"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("patient number (MRN)", max_length=64)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn"], name="unique_mrn_per_clinic")]

    def __str__(self) -> str:
        return f"{self.mrn} ({self.clinic.code})"


def covid_first(threshold: float) -> RawSQL:
    """The worklist's first sort key: 0 when the COVID-19 probability is above the threshold.

    Written as SQL text because an index on an expression serves only a query with the very same
    expression, constants included, and Django would send the threshold as a bound parameter.
    With a threshold other than the index's (0.5) the order is still right, only sorted unindexed.
    """
    return RawSQL(f"CASE WHEN covid_probability > {float(threshold)!r} THEN 0 ELSE 1 END", [],
                  output_field=models.IntegerField())


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CaseQuerySet":
        """The cases this user may open: those of the clinics `Clinic.objects.visible_to` gives."""
        if user.is_authenticated and user.has_perm(SEES_ALL_CLINICS):
            return self
        return self.filter(clinic__in=Clinic.objects.visible_to(user))

    def newest_first(self) -> "CaseQuerySet":
        return self.order_by("-created", "-id")

    def in_worklist_order(self, threshold: float) -> "CaseQuerySet":
        """COVID-19 probability above the threshold first, then "urgent", then the longest wait."""
        return self.annotate(priority=covid_first(threshold)).order_by("priority", "-urgent", "created", "id")


class Case(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        QUEUED = "queued", "Waiting for the classifier"
        CLASSIFYING = "classifying", "Classifying"
        PREDICTED = "predicted", "Awaiting review"
        FAILED = "failed", "Classification failed"
        REVIEWED = "reviewed", "Reviewed"

    class View(models.TextChoices):
        PA = "PA", "PA"
        AP = "AP", "AP"
        LATERAL = "LAT", "Lateral"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="cases")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    # Clinical context
    symptoms = models.TextField(blank=True)
    onset_date = models.DateField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField("SpO2 (%)", null=True, blank=True)
    notes = models.TextField(blank=True)
    view = models.CharField(max_length=3, choices=View.choices, default=View.PA)
    urgent = models.BooleanField(default=False)

    # Workflow. Transitions are compare-and-set updates in services, never plain saves.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    status_changed = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)

    # Copied from the latest prediction when it is written (Case.suggestion_fields), so the
    # worklist orders and filters 100,000 cases from this table alone.
    predicted_label = models.CharField(max_length=32, blank=True)
    covid_probability = models.FloatField(null=True, blank=True)

    # The image: stored under server-generated names in private storage.
    image_name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)
    image_sha256 = models.CharField(max_length=64)
    image_format = models.CharField(max_length=8)
    image_width = models.PositiveIntegerField()
    image_height = models.PositiveIntegerField()
    original_filename = models.CharField(max_length=255, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["clinic", "status", "-created"], name="case_clinic_status_created"),
            # Covers the worklist's filters and ordering, so sorting 20,000 waiting cases reads
            # only this index (measured in bench/pages.py).
            models.Index(fields=["status", "clinic", "predicted_label", "covid_probability", "urgent", "created"],
                         name="case_worklist"),
            # The worklist's whole order, so a page without a selective filter ("all statuses")
            # reads 25 index entries instead of sorting every case. Built for the default threshold.
            models.Index(covid_first(0.5), F("urgent").desc(), F("created"), F("id"), name="case_worklist_priority"),
        ]
        permissions = [("view_all_clinics", "Can open the cases of every clinic")]

    def __str__(self) -> str:
        return f"Case {self.public_id} ({self.patient.mrn})"

    @staticmethod
    def suggestion_fields(label: str, probabilities: dict) -> dict:
        """The worklist columns for a new prediction; pass them to the update that marks it predicted."""
        return {"predicted_label": label, "covid_probability": float(probabilities.get("covid", 0.0))}


class PredictionQuerySet(models.QuerySet):
    def newest_first(self) -> "PredictionQuerySet":
        """Newest first, the id breaking ties between rows written in the same instant."""
        return self.order_by("-created", "-id")

    def shown(self) -> "PredictionQuerySet":
        """The predictions people see: the served version's, never a silent trial's."""
        return self.filter(trial=False)


class Prediction(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="predictions")
    model_version = models.ForeignKey("classifier.ModelVersion", on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=32)
    probabilities = models.JSONField()
    heatmap_name = models.CharField(max_length=200, blank=True)
    inference_ms = models.FloatField()
    queue_wait_ms = models.FloatField(null=True)
    worker_host = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # Written by a version on silent trial: compared on the oversight page, shown to nobody else.
    trial = models.BooleanField(default=False)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version"], name="one_prediction_per_case_and_model")
        ]

    def __str__(self) -> str:
        return f"{self.label} for {self.case_id}"


class ReviewQuerySet(models.QuerySet):
    def in_force(self) -> "ReviewQuerySet":
        """Signed reviews that no later review amends: one per reviewed case."""
        return self.filter(amended_by__isnull=True)

    def newest_first(self) -> "ReviewQuerySet":
        return self.order_by("-signed_at", "-id")


class Review(models.Model):
    class Finding(models.TextChoices):
        COVID = labels.COVID, labels.FINDING_NAMES[labels.COVID]
        NORMAL = labels.NORMAL, labels.FINDING_NAMES[labels.NORMAL]
        VIRAL = labels.VIRAL_PNEUMONIA, labels.FINDING_NAMES[labels.VIRAL_PNEUMONIA]
        OTHER = labels.OTHER, labels.FINDING_NAMES[labels.OTHER]

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reviews")
    prediction = models.ForeignKey(Prediction, on_delete=models.PROTECT, null=True, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    finding = models.CharField(max_length=32, choices=Finding.choices)
    note = models.TextField(blank=True)
    agreed = models.BooleanField()
    signed_at = models.DateTimeField(auto_now_add=True)
    amends = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="amended_by")
    amendment_reason = models.TextField(blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["signed_at"]

    def __str__(self) -> str:
        return f"{self.get_finding_display()} by {self.reviewer} on {self.case_id}"


class AuditEvent(models.Model):
    """Append-only. Written in the same transaction as the change it records, once per change."""

    class Action(models.TextChoices):
        CASE_SUBMITTED = "case_submitted"
        IMAGE_VIEWED = "image_viewed"
        PREDICTION_WRITTEN = "prediction_written"
        STATUS_CHANGED = "status_changed"
        CLASSIFICATION_FAILED = "classification_failed"
        CASE_RETRIED = "case_retried"
        REVIEW_CONFIRMED = "review_confirmed"
        REVIEW_OVERRIDDEN = "review_overridden"
        REVIEW_AMENDED = "review_amended"
        CASE_EDITED = "case_edited"
        USER_CHANGED = "user_changed"
        GROUP_CHANGED = "group_changed"
        CLINIC_CHANGED = "clinic_changed"
        MODEL_ACTIVATED = "model_activated"
        LOGIN_SUCCEEDED = "login_succeeded"
        LOGIN_FAILED = "login_failed"
        ACCESS_DENIED = "access_denied"
        AUDIT_EXPORTED = "audit_exported"
        TRIAL_CHANGED = "trial_changed"
        TRIAL_PREDICTION_WRITTEN = "trial_prediction_written"
        TRIAL_FAILED = "trial_failed"
        TRIAL_RESCORING_STARTED = "trial_rescoring_started"
        CLINIC_FLAGGED = "clinic_flagged"
        # Rows of the change tracker used before November 2026, moved here by migration 0008.
        HISTORY_IMPORTED = "history_imported"

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)  # "worker@host", or the username tried
    action = models.CharField(max_length=40, db_index=True, choices=Action.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, related_name="audit_events")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, related_name="+")
    ip_address = models.GenericIPAddressField(null=True)
    details = models.JSONField(default=dict)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        base_manager_name = "objects"  # related-object paths get the append-only queryset too
        indexes = [
            models.Index(fields=["actor_label"], name="auditevent_actor_label"),  # the audit user filter
            models.Index(fields=["action", "-time"], name="auditevent_action_time"),  # one action, newest first
        ]
        default_permissions = ("view",)  # there is no change or delete permission to grant

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed.")
        if self.action not in self.Action.values:  # a misspelt action fails at once, not in a report
            raise ValueError(f"unknown audit action {self.action!r}")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")
