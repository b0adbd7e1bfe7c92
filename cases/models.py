"""Clinical records: clinics, patients, cases, predictions, reviews, DICOM nodes and results, and the
audit trail.

Public ids are UUIDs so that case URLs reveal nothing about volume or order. The read rules
that several pages share live here, once, on the querysets: `Case.objects.visible_to(user)`
(every page, the admin, the worklist), `newest_first()`, `in_worklist_order()`, and
`Review.objects.in_force()` (the signed review no later review amends).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.fields.json import KeyTransform
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext, gettext_lazy

from classifier import labels

from .audit.guard import AppendOnlyError, AppendOnlyQuerySet
from .text import identifier_key

SEES_ALL_CLINICS = "cases.view_all_clinics"  # the permission that lifts the per-clinic rule


def sees_every_clinic(viewer) -> bool:
    """A signed-in user with the permission that lifts the per-clinic rule; never an integration."""
    return not isinstance(viewer, Integration) and viewer.is_authenticated and viewer.has_perm(SEES_ALL_CLINICS)


class ClinicQuerySet(models.QuerySet):
    def visible_to(self, viewer) -> "ClinicQuerySet":
        """Every clinic for those who see all clinics; otherwise the clinics the user belongs to.
        An integration (an outside system calling the API with its token) sees the clinics it is scoped to."""
        if isinstance(viewer, Integration):
            return self.filter(integrations=viewer) if viewer.active else self.none()
        if not viewer.is_authenticated:
            return self.none()
        if sees_every_clinic(viewer):
            return self
        return self.filter(members=viewer)


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    code = models.SlugField(max_length=40, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="clinics", blank=True)
    read_first = models.BooleanField(
        gettext_lazy("read first"), default=False,
        help_text=gettext_lazy(
            "Radiologists record their own impression of each film before the AI suggestion is shown."))
    created = models.DateTimeField(auto_now_add=True)

    objects = ClinicQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("clinic")
        verbose_name_plural = gettext_lazy("clinics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DicomNode(models.Model):
    """A DICOM peer of one clinic: an X-ray unit that sends films, a PACS that takes results, or both.

    An association is accepted only from a node's AE title *and* address, and whatever it sends
    is filed under its clinic; results go to the clinic's node that receives them.
    """

    name = models.CharField(max_length=100)
    ae_title = models.CharField(gettext_lazy("AE title"), max_length=16, unique=True)
    host = models.GenericIPAddressField(
        help_text=gettext_lazy("The address it connects from, and results are sent to."))
    port = models.PositiveIntegerField(null=True, blank=True, help_text=gettext_lazy("Needed to receive results."))
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="dicom_nodes")
    may_send = models.BooleanField(gettext_lazy("may send images"), default=True)
    receives_results = models.BooleanField(default=False)
    wants_suggestions = models.BooleanField(gettext_lazy("also send the AI suggestion before review"), default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clinic", "name"]
        verbose_name = gettext_lazy("DICOM node")

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title})"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.receives_results and not self.port:
            raise ValidationError({"port": gettext("A node that receives results needs a port.")})


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", gettext_lazy("Female")
        MALE = "M", gettext_lazy("Male")
        OTHER = "O", gettext_lazy("Other")
        UNKNOWN = "U", gettext_lazy("Unknown")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField(gettext_lazy("patient number (MRN)"), max_length=64)  # as first entered (cases.text)
    mrn_key = models.CharField(max_length=64, editable=False)  # what matches it: identifier_key(mrn)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("patient")
        verbose_name_plural = gettext_lazy("patients")
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn_key"], name="one_patient_per_mrn_in_a_clinic")]

    def __str__(self) -> str:
        return f"{self.mrn} ({self.clinic.code})"

    def save(self, *args, **kwargs):
        self.mrn_key = identifier_key(self.mrn)  # derived, so no path can store one without the other
        if kwargs.get("update_fields") is not None and "mrn" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "mrn_key"}
        super().save(*args, **kwargs)


class CaseQuerySet(models.QuerySet):
    def visible_to(self, viewer) -> "CaseQuerySet":
        """The cases this user (or integration) may open: those of the clinics `Clinic.objects.visible_to` gives."""
        if sees_every_clinic(viewer):
            return self
        return self.filter(clinic__in=Clinic.objects.visible_to(viewer))

    def newest_first(self) -> "CaseQuerySet":
        return self.order_by("-created", "-id")

    def in_worklist_order(self) -> "CaseQuerySet":
        """COVID-19 priority first (probability above its clinic's threshold: `Case.covid_priority`), then
        "urgent", then the longest wait."""
        return self.order_by("-covid_priority", "-urgent", "created", "id")


class Case(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", gettext_lazy("Submitted")
        QUEUED = "queued", gettext_lazy("Waiting for the classifier")
        CLASSIFYING = "classifying", gettext_lazy("Classifying")
        PREDICTED = "predicted", gettext_lazy("Awaiting review")
        FAILED = "failed", gettext_lazy("Classification failed")
        REVIEWED = "reviewed", gettext_lazy("Reviewed")
        WITHDRAWN = "withdrawn", gettext_lazy("Withdrawn by the clinic")

    class FailureCause(models.TextChoices):
        """Why classification did not finish: the image itself, or the environment around it.
        Environmental causes are retried (task backoff, then the reaper); the image is not."""
        IMAGE = "image", gettext_lazy("The image could not be read or classified")
        MODEL = "model", gettext_lazy("The model version could not be loaded")
        STORAGE = "storage", gettext_lazy("Image storage could not be read or written")
        MEMORY = "memory", gettext_lazy("The worker ran out of memory")
        TIME_LIMIT = "time_limit", gettext_lazy("Classification took longer than its time limit")
        DATABASE = "database", gettext_lazy("The database was unreachable")
        BROKER = "broker", gettext_lazy("The queue (Redis) was unreachable or lost the message")
        WORKER_STOPPED = "worker_stopped", gettext_lazy("The worker stopped while classifying")

    class View(models.TextChoices):
        PA = "PA", gettext_lazy("PA")
        AP = "AP", gettext_lazy("AP")
        LATERAL = "LAT", gettext_lazy("Lateral")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="cases")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    # A case comes from a user (the form, or the API with a session), from a DICOM node (the listener) or
    # from an integration (the API with a token): exactly one is set.
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     null=True, blank=True)
    received_from = models.ForeignKey(DicomNode, on_delete=models.PROTECT, related_name="cases",
                                      null=True, blank=True)
    submitted_via = models.ForeignKey("Integration", on_delete=models.PROTECT, related_name="cases",
                                      null=True, blank=True)
    # A DICOM original's SOP Instance UID: unique, so a resent instance creates nothing new.
    sop_instance_uid = models.CharField(gettext_lazy("SOP Instance UID"), max_length=64, unique=True, null=True,
                                        blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # A film the input gate refused, withdrawn because the clinic sent a better one: the case filed with it.
    replaced_by = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="replaces")

    # Clinical context
    symptoms = models.TextField(blank=True)
    onset_date = models.DateField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField(gettext_lazy("SpO2 (%)"), null=True, blank=True)
    notes = models.TextField(blank=True)
    view = models.CharField(max_length=3, choices=View.choices, default=View.PA)
    urgent = models.BooleanField(default=False)

    # Workflow. Transitions are compare-and-set updates in services, never plain saves.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    status_changed = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # claims that did not end in an environmental fault
    requeues = models.PositiveSmallIntegerField(default=0)  # times the reaper queued the case again
    failure_reason = models.TextField(blank=True)
    # The last cause: of the failure once failed, or of the latest environmental fault while retrying.
    failure_cause = models.CharField(max_length=16, choices=FailureCause.choices, blank=True, db_index=True)

    # Copied from the latest prediction when it is written (Case.suggestion_fields), so the
    # worklist orders and filters 100,000 cases from this table alone.
    predicted_label = models.CharField(max_length=32, blank=True)
    covid_probability = models.FloatField(null=True, blank=True)
    # The probability above the threshold in force at the clinic when the prediction was written (the clinic's own,
    # chosen at go-live, or CXR_COVID_PRIORITY_THRESHOLD): stored, so one index orders every clinic's worklist.
    covid_priority = models.BooleanField(default=False)
    # Why there is no AI suggestion, a human read (cases/classification/reasons.py): the input gate's
    # reason when the image is not a frontal chest film, or "uncertain" (the model's uncertain band).
    gate_reason = models.CharField(max_length=32, blank=True)

    # The image: stored under server-generated names in private storage.
    image_name = models.CharField(max_length=200)
    # Empty until made, for a JPEG 2000 film: made after the commit, by the upkeep worker or on first need
    # (cases/intake/display.py).
    display_name = models.CharField(max_length=200)
    image_sha256 = models.CharField(max_length=64)
    image_format = models.CharField(max_length=8)
    image_width = models.PositiveIntegerField()
    image_height = models.PositiveIntegerField()
    original_filename = models.CharField(max_length=255, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("case")
        verbose_name_plural = gettext_lazy("cases")
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["clinic", "status", "-created"], name="case_clinic_status_created"),
            # Covers the worklist's filters and ordering, so sorting 20,000 waiting cases reads
            # only this index (measured in bench/pages.py).
            models.Index(fields=["status", "clinic", "predicted_label", "covid_priority", "urgent", "created"],
                         name="case_worklist"),
            # The worklist's whole order, so a page without a selective filter ("all statuses")
            # reads 25 index entries instead of sorting every case.
            models.Index(F("covid_priority").desc(), F("urgent").desc(), F("created"), F("id"),
                         name="case_worklist_priority"),
        ]
        permissions = [("view_all_clinics", "Can open the cases of every clinic"),
                       ("retry_case", "Can send a failed case back to the classifier")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(submitted_by__isnull=False, received_from__isnull=True, submitted_via__isnull=True)
                | models.Q(submitted_by__isnull=True, received_from__isnull=False, submitted_via__isnull=True)
                | models.Q(submitted_by__isnull=True, received_from__isnull=True, submitted_via__isnull=False),
                name="case_from_a_user_a_node_or_an_integration"),
        ]

    def __str__(self) -> str:
        return gettext("Case %(id)s (%(mrn)s)") % {"id": self.public_id, "mrn": self.patient.mrn}

    @staticmethod
    def suggestion_fields(label: str, probabilities: dict, gate_reason: str = "", threshold: float | None = None
                          ) -> dict:
        """The worklist columns for a new prediction; pass them to the update that marks it predicted.
        An image the input gate refused, or one in the model's uncertain band, gets no suggestion and no
        COVID-19 priority (`gate_reason`: cases/classification/reasons.py). `threshold`: the one in force at
        the clinic (default CXR_COVID_PRIORITY_THRESHOLD)."""
        if gate_reason:
            return {"predicted_label": "", "covid_probability": None, "covid_priority": False,
                    "gate_reason": gate_reason}
        covid = float(probabilities.get("covid", 0.0))
        limit = settings.CXR_COVID_PRIORITY_THRESHOLD if threshold is None else threshold
        return {"predicted_label": label, "covid_probability": covid, "covid_priority": covid > limit,
                "gate_reason": ""}


class PredictionQuerySet(models.QuerySet):
    @staticmethod
    def suggestion_condition(path: str = "") -> models.Q:
        """THE rule for whether a prediction is an AI suggestion (`Prediction.gives_suggestion`, in SQL), as a
        condition on the prediction at `path` ("" for Prediction itself, "prediction__" from a review): the
        input gate passed and the model was outside its uncertain band. Reading a film that got none is
        neither agreeing nor overriding."""
        return models.Q(**{f"{path}gate_passed": True, f"{path}uncertain": False})

    def with_suggestion(self) -> "PredictionQuerySet":
        """The predictions that are an AI suggestion (`suggestion_condition`)."""
        return self.filter(self.suggestion_condition())

    def newest_first(self) -> "PredictionQuerySet":
        """Newest first, the id breaking ties between rows written in the same instant."""
        return self.order_by("-created", "-id")

    def shown(self) -> "PredictionQuerySet":
        """The served version's predictions, never a silent trial's. Whether people may see one is the
        local-validation rule on top of this (`exposed()`, cases/validation/selectors.py)."""
        return self.filter(trial=False)

    def exposed(self) -> "PredictionQuerySet":
        """Shown predictions of versions that are live at the case's clinic (cases/validation)."""
        live = ClinicAIState.objects.live().filter(clinic=models.OuterRef("case__clinic_id"),
                                                   model_version=models.OuterRef("model_version_id"))
        return self.shown().filter(models.Exists(live))


class Prediction(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="predictions")
    model_version = models.ForeignKey("classifier.ModelVersion", on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=32)
    probabilities = models.JSONField()
    # The class map at the network's resolution (grayscale PNG); before issue 31, the burned-in composite.
    heatmap_name = models.CharField(max_length=200, blank=True)
    # The film with the heatmap burned in, made on first need (cases/classification/composites.py).
    composite_name = models.CharField(max_length=200, blank=True)
    inference_ms = models.FloatField()
    queue_wait_ms = models.FloatField(null=True)
    worker_host = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # The input gate's verdict on the image. Not passed: the label and probabilities are kept for
    # audit but are no suggestion (classifier/gate.py, REASONS). None: the gate did not run (silent-trial
    # rows written before trials ran it).
    gate_passed = models.BooleanField(null=True, default=True)
    gate_reason = models.CharField(max_length=32, blank=True)
    gate_scores = models.JSONField(default=dict, blank=True)
    gate_version = models.CharField(max_length=100, blank=True)
    # The COVID-19 threshold in force at the case's clinic when a served row was written: it decided the label
    # (a clinic's own threshold) and the priority. None on trial rows and rows written before it was kept.
    covid_threshold = models.FloatField(null=True, blank=True)
    # The role the version had when it wrote this row, kept as written: True for a silent trial's row
    # (compared on the oversight page, shown to nobody else), so a version's trial rows are never counted
    # as served after it is activated. Only `served_prediction` turns one into a served row, rewriting it.
    trial = models.BooleanField(default=False)
    # Inside the model's uncertain band (its sidecar, fitted on validation): no suggestion, a human read.
    uncertain = models.BooleanField(default=False)
    # What clinic staff read instead of a percentage: "likely" / "possible" / "unlikely", from the COVID-19
    # probability by the model's bands fitted on validation (classifier/operating_point.py); "" before them.
    covid_word = models.CharField(max_length=16, blank=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("prediction")
        verbose_name_plural = gettext_lazy("predictions")
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version"], name="one_prediction_per_case_and_model")
        ]

    def __str__(self) -> str:
        name = labels.display_name(self.label)
        return gettext("%(label)s by %(model)s") % {"label": gettext(name) if name else "",  # gettext("") is a header
                                                     "model": self.model_version.name}

    @property
    def gives_suggestion(self) -> bool:
        """The one rule (with `PredictionQuerySet.with_suggestion`): the gate passed the image and the
        model was outside its uncertain band. Otherwise the label is kept for audit, never suggested."""
        return bool(self.gate_passed) and not self.uncertain

    @property
    def gate_text(self) -> str:
        if self.gate_passed is None:
            return gettext("not run")
        if self.gate_passed:
            return gettext("passed")
        return gettext("refused: %(reason)s") % {"reason": self.gate_reason}


class ClinicAIStateQuerySet(models.QuerySet):
    def live(self) -> "ClinicAIStateQuerySet":
        return self.filter(state=ClinicAIState.State.LIVE)


class ClinicAIState(models.Model):
    """Whether a clinic sees one model version's suggestions (cases/validation): one row per clinic and
    version once anyone decided; no row is `silent`, so a new clinic and a newly activated version start
    silent. Changed only by cases/validation/services.py, compare-and-set with its audit row."""

    class State(models.TextChoices):
        SILENT = "silent", gettext_lazy("Silent: suggestions are being validated")
        LIVE = "live", gettext_lazy("Live: staff and radiologists see suggestions")
        PAUSED = "paused", gettext_lazy("Paused: suggestions are hidden again")

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="ai_states")
    model_version = models.ForeignKey("classifier.ModelVersion", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.SILENT)
    # The COVID-19 threshold chosen at go-live: None is the global CXR_COVID_PRIORITY_THRESHOLD.
    covid_threshold = models.FloatField(null=True, blank=True)
    changed = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    reason = models.CharField(max_length=200, blank=True)

    objects = ClinicAIStateQuerySet.as_manager()

    class Meta:
        ordering = ["clinic", "model_version"]
        verbose_name = gettext_lazy("clinic AI state")
        constraints = [models.UniqueConstraint(fields=["clinic", "model_version"],
                                               name="one_ai_state_per_clinic_and_version")]

    def __str__(self) -> str:
        return f"{self.clinic}: {self.get_state_display()}"


class ReviewQuerySet(models.QuerySet):
    def in_force(self) -> "ReviewQuerySet":
        """Signed reviews that no later review amends: one per reviewed case."""
        return self.filter(amended_by__isnull=True)

    def newest_first(self) -> "ReviewQuerySet":
        return self.order_by("-signed_at", "-id")


class Review(models.Model):
    class Finding(models.TextChoices):
        COVID = labels.COVID, gettext_lazy(labels.FINDING_NAMES[labels.COVID])
        NORMAL = labels.NORMAL, gettext_lazy(labels.FINDING_NAMES[labels.NORMAL])
        VIRAL = labels.VIRAL_PNEUMONIA, gettext_lazy(labels.FINDING_NAMES[labels.VIRAL_PNEUMONIA])
        OTHER = labels.OTHER, gettext_lazy(labels.FINDING_NAMES[labels.OTHER])
        UNUSABLE = labels.UNUSABLE, gettext_lazy(labels.FINDING_NAMES[labels.UNUSABLE])

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reviews")
    prediction = models.ForeignKey(Prediction, on_delete=models.PROTECT, null=True, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    finding = models.CharField(max_length=32, choices=Finding.choices)
    note = models.TextField(blank=True)
    agreed = models.BooleanField()
    signed_at = models.DateTimeField(auto_now_add=True)
    amends = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="amended_by")
    amendment_reason = models.TextField(blank=True)
    # Read-first clinics: what the radiologist recorded before the AI panel opened ("" otherwise).
    first_impression = models.CharField(max_length=32, choices=Finding.choices, blank=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("review")
        verbose_name_plural = gettext_lazy("reviews")
        ordering = ["signed_at"]

    def __str__(self) -> str:
        return gettext("%(finding)s by %(reviewer)s") % {"finding": self.get_finding_display(),
                                                         "reviewer": self.reviewer}


class FirstImpression(models.Model):
    """A read-first clinic's radiologist's own finding, recorded before the AI panel opened; kept
    beside the signed review (which copies it) so both impressions stay on record."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="first_impressions")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    finding = models.CharField(max_length=32, choices=Review.Finding.choices)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "reader"], name="one_first_impression_per_reader")]

    def __str__(self) -> str:
        return gettext("%(finding)s by %(reader)s (first impression)") % {"finding": self.get_finding_display(),
                                                                           "reader": self.reader}


class DicomResult(models.Model):
    """The DICOM objects (a Structured Report and a Secondary Capture) made for one signed review,
    or for one AI suggestion when the node asks for it, and their delivery to the clinic's PACS.

    `key` is unique ("review-<id>", "suggestion-<id>"): a review is answered once however often
    its task is delivered. The objects are built once and kept, so every retry and the download
    send the very same instances (same UIDs: a PACS that got one already just overwrites it).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", gettext_lazy("Waiting to be sent")
        SENT = "sent", gettext_lazy("Sent")
        FAILED = "failed", gettext_lazy("Sending failed")
        KEPT = "kept", gettext_lazy("Not sent: the clinic has no result node")

    key = models.CharField(max_length=40, unique=True)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="dicom_results")
    review = models.ForeignKey(Review, on_delete=models.PROTECT, null=True, related_name="+")
    # The suggestion the objects carry; None when people may not see one (a blind read, a human read).
    prediction = models.ForeignKey(Prediction, on_delete=models.PROTECT, null=True, related_name="+")
    node = models.ForeignKey(DicomNode, on_delete=models.PROTECT, null=True, related_name="results")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    report_name = models.CharField(max_length=200, blank=True)
    capture_name = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = gettext_lazy("DICOM result")

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class OversightSnapshot(models.Model):
    """Figures of an oversight page for one scope, computed in the background (cases/oversight/snapshots.py).

    Derived data only, replaced on every refresh: the page reads it instead of aggregating every
    case on each request, and says how old it is.
    """

    key = models.CharField(max_length=200, unique=True)  # page, scope, the versions and week it saw
    computed_at = models.DateTimeField()
    payload = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.key} ({self.computed_at:%Y-%m-%d %H:%M})"


class ModelFault(models.Model):
    """A worker machine that could not load the model version it serves (cases/classification/model_faults.py).

    One row per machine, from its first failed load until it loads a model again: `/healthz` reports
    it, and the administrators are mailed once when it opens, not for every case that waits.
    """

    worker_host = models.CharField(max_length=255, unique=True)
    model = models.CharField(max_length=100)  # the version's name (a pinned file may not be registered)
    reason = models.CharField(max_length=200)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.worker_host}: {self.model}"


class AuditEventQuerySet(AppendOnlyQuerySet):
    def visible_to(self, viewer) -> "AuditEventQuerySet":
        """Every event for those who see every clinic; otherwise only the events of the viewer's clinics
        (a clinic auditor): events of no clinic (logins, users, model versions) are not theirs."""
        if sees_every_clinic(viewer):
            return self
        return self.filter(clinic__in=Clinic.objects.visible_to(viewer))


# The actions that record a patient's edit (the patient's id in `details`): part of a case's timeline.
# Spelled out, not AuditEvent.Action members: an index of AuditEvent's own Meta names them.
PATIENT_EDIT_ACTIONS = ("case_edited", "history_imported")


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
        REVIEW_SIGNED = "review_signed"  # a finding that answered no suggestion: a human read, or a blind read
        REVIEW_AMENDED = "review_amended"
        FIRST_IMPRESSION_RECORDED = "first_impression_recorded"
        CASE_WITHDRAWN = "case_withdrawn"
        CASE_IMAGE_REPLACED = "case_image_replaced"
        CASE_EDITED = "case_edited"
        USER_CHANGED = "user_changed"
        GROUP_CHANGED = "group_changed"
        CLINIC_CHANGED = "clinic_changed"
        MODEL_ACTIVATED = "model_activated"
        LOGIN_SUCCEEDED = "login_succeeded"
        LOGIN_FAILED = "login_failed"
        ACCESS_DENIED = "access_denied"
        AUDIT_EXPORTED = "audit_exported"
        FILES_SWEPT = "files_swept"
        PATIENTS_MERGED = "patients_merged"
        DICOM_ASSOCIATION = "dicom_association"
        DICOM_INSTANCE_RECEIVED = "dicom_instance_received"
        DICOM_RESULT_SENT = "dicom_result_sent"
        DICOM_RESULT_FAILED = "dicom_result_failed"
        DICOM_RESULT_DOWNLOADED = "dicom_result_downloaded"
        TRIAL_CHANGED = "trial_changed"
        TRIAL_PREDICTION_WRITTEN = "trial_prediction_written"
        TRIAL_FAILED = "trial_failed"
        TRIAL_RESCORING_STARTED = "trial_rescoring_started"
        MODEL_FAULT = "model_fault"  # a worker could not load the model version it serves
        CLINIC_AI_STATE_CHANGED = "clinic_ai_state_changed"  # silent, live or paused (cases/validation)
        CLINIC_FLAGGED = "clinic_flagged"
        INTEGRATION_CHANGED = "integration_changed"
        API_TOKEN_ISSUED = "api_token_issued"
        API_TOKEN_REVOKED = "api_token_revoked"
        API_TOKEN_USED = "api_token_used"  # once per token and minute; the counts are in ApiTokenUse
        WEBHOOK_SECRET_ISSUED = "webhook_secret_issued"
        WEBHOOK_DELIVERED = "webhook_delivered"
        WEBHOOK_FAILED = "webhook_failed"
        WEBHOOK_REDELIVERED = "webhook_redelivered"
        NOTIFICATION_SENT = "notification_sent"
        NOTIFICATION_FAILED = "notification_failed"
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

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = gettext_lazy("audit event")
        verbose_name_plural = gettext_lazy("audit events")
        ordering = ["-time", "-id"]
        base_manager_name = "objects"  # related-object paths get the append-only queryset too
        indexes = [
            # The audit user filter by the name recorded, with a date range, newest first (by the account:
            # the actor's foreign-key index).
            models.Index(fields=["actor_label", "-time"], name="auditevent_actor_label_time"),
            models.Index(fields=["action", "-time"], name="auditevent_action_time"),  # one action, newest first
            # A case's timeline includes its patient's edits, found by the patient's id in the details.
            models.Index(KeyTransform("object", "details"), condition=models.Q(action__in=PATIENT_EDIT_ACTIONS),
                         name="auditevent_patient_edits"),
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


# --- Integrations: outside systems on the API, their tokens, webhooks; notifications to people ------------------

class Integration(models.Model):
    """An outside system (an EMR, a TB register) that calls the API with its tokens and receives webhooks.

    Its clinics and rights scope every token it has: `Case.objects.visible_to(integration)` is the rule
    every read follows, as for a user. DRF puts it in `request.user`, hence `is_authenticated`.
    """

    class Event(models.TextChoices):
        PREDICTED = "case.predicted", gettext_lazy("case.predicted: an AI suggestion (or a human read) awaits review")
        SIGNED = "case.signed", gettext_lazy("case.signed: a radiologist signed the result")
        AMENDED = "case.amended", gettext_lazy("case.amended: a signed result was amended")
        FAILED = "case.failed", gettext_lazy("case.failed: classification failed")

    name = models.CharField(max_length=100, unique=True)
    clinics = models.ManyToManyField(Clinic, related_name="integrations", blank=True)
    active = models.BooleanField(
        default=True, help_text=gettext_lazy("Untick to refuse all its tokens and stop its webhooks."))
    may_submit = models.BooleanField(gettext_lazy("may submit cases"), default=False)
    may_read = models.BooleanField(gettext_lazy("may read results"), default=True)
    receives_webhooks = models.BooleanField(default=False)
    webhook_url = models.URLField(max_length=500, blank=True, help_text=gettext_lazy("HTTPS in production."))
    webhook_events = models.JSONField(default=list, blank=True)
    # The HMAC key of the webhook signatures: kept as it is (signing needs it), shown once when issued.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    is_authenticated = True  # for DRF and the middleware, which ask this of `request.user`
    is_anonymous = False
    is_integration = True  # cases.audit.actors: the actor is the integration, not a user

    class Meta:
        verbose_name = gettext_lazy("integration")
        verbose_name_plural = gettext_lazy("integrations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def actor_label(self) -> str:
        return f"api:{self.name}"

    def wants(self, event: str) -> bool:
        return (self.active and self.receives_webhooks and bool(self.webhook_url) and bool(self.webhook_secret)
                and event in self.webhook_events)


class ApiToken(models.Model):
    """A credential of an integration: `cxr_<prefix>_<secret>`, shown once, kept as a SHA-256 digest.

    The prefix finds the row (and names the token in the admin and the audit trail); the digest of the
    whole token is compared in constant time. A token of 32 random bytes needs no slow hash: nobody can
    guess it from its digest, and a slow hash would cost every request.
    """

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="tokens")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = gettext_lazy("API token")

    def __str__(self) -> str:
        return f"cxr_{self.prefix}_… ({self.integration})"


class ApiTokenUse(models.Model):
    """A token's requests in one minute: the rate limit counts here, and the first of each minute is audited."""

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="uses")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)  # accepted by the token check (throttled ones included)
    throttled = models.PositiveIntegerField(default=0)  # beyond CXR_API_RATE_LIMIT: answered 429
    refused = models.PositiveIntegerField(default=0)  # the token was revoked or its integration inactive: 401

    class Meta:
        ordering = ["-minute"]
        constraints = [models.UniqueConstraint(fields=["token", "minute"], name="one_use_row_per_token_and_minute")]


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` bound to the case it created, in the case's own transaction.

    `caller` is "integration:<id>" or "user:<id>": two callers never share a key space. The fingerprint
    is of the request's fields and files, not its bytes (a multipart boundary changes on every send).
    """

    caller = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="one_case_per_idempotency_key")]


class WebhookEvent(models.Model):
    """One event for one integration, and its delivery: the body is fixed when the event happens (what
    is signed and sent on every try); `next_attempt` is when the worker may try next (a compare-and-set
    claim moves it forward, so two deliveries of one message send once)."""

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Waiting to be delivered")
        DELIVERED = "delivered", gettext_lazy("Delivered")
        FAILED = "failed", gettext_lazy("Failed: every try refused")

    public_id = models.UUIDField(gettext_lazy("event id"), default=uuid.uuid4, unique=True, editable=False)
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="webhook_events_sent")
    event = models.CharField(max_length=20, choices=Integration.Event.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("webhook event")
        verbose_name_plural = gettext_lazy("webhook events")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event} {self.public_id}"


class WebhookAttempt(models.Model):
    """One try at delivering an event: the delivery log in the admin."""

    webhook_event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["webhook_event", "number"], name="one_row_per_attempt")]


class NotificationChoice(models.Model):
    """How a person wants to be told: by email, by SMS, both or neither; radiologists say when they are on duty."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_choice")
    by_email = models.BooleanField(gettext_lazy("by email"), default=False)
    by_sms = models.BooleanField(gettext_lazy("by text message (SMS)"), default=False)
    phone = models.CharField(gettext_lazy("mobile number"), max_length=20, blank=True,
                             help_text=gettext_lazy("International format, e.g. +254712345678."))
    on_duty = models.BooleanField(gettext_lazy("on duty for urgent cases"), default=False)

    def __str__(self) -> str:
        return gettext("notifications of %(user)s") % {"user": self.user}


class Notification(models.Model):
    """One message to one person on one channel, sent by the worker once (`key` is unique)."""

    class Channel(models.TextChoices):
        EMAIL = "email", gettext_lazy("Email")
        SMS = "sms", gettext_lazy("SMS")

    class Reason(models.TextChoices):
        RESULT_SIGNED = "result_signed", gettext_lazy("A result was signed")
        RESULT_AMENDED = "result_amended", gettext_lazy("A signed result was amended")
        URGENT_CASE = "urgent_case", gettext_lazy("An urgent case arrived")

    class Status(models.TextChoices):
        WAITING = "waiting", gettext_lazy("Waiting to be sent")
        SENT = "sent", gettext_lazy("Sent")
        FAILED = "failed", gettext_lazy("Sending failed")

    key = models.CharField(max_length=80, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("notification")
        verbose_name_plural = gettext_lazy("notifications")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return gettext("%(reason)s to %(user)s by %(channel)s") % {
            "reason": self.get_reason_display(), "user": self.user, "channel": self.get_channel_display()}


class Upload(models.Model):
    """A resumable upload (tus 1.0, cases/intake/uploads.py): the bytes received so far sit in a partial
    file of private storage until the last one arrives and the film is filed as a case.

    `offset` reaches `length` only in the step that files the case (the bytes may all be on disk before,
    while the checks run): a client that finds the offset at the length knows its case exists. `caller`
    is whose upload it is ("user:<id>" or "integration:<id>"); nobody else can find it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    caller = models.CharField(max_length=40)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)  # the decoded Upload-Metadata: the case's details
    partial_name = models.CharField(max_length=64, blank=True)  # "" once filed
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()  # moved on by every chunk; then the sweep removes it and its bytes

    class Meta:
        ordering = ["-created", "-id"]


class Profile(models.Model):
    """A person's own settings that follow them across logins and devices: for now, the language of
    their pages, emails and text messages (blank: the browser's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # No choices= here: which languages are switched on is a deployment setting (CXR_LANGUAGES), and a
    # language switched off later must not make old rows invalid; cxrsite.language falls back for those.
    language = models.CharField(gettext_lazy("language"), max_length=10, blank=True)

    def __str__(self) -> str:
        return gettext("profile of %(user)s") % {"user": self.user}
