"""What the API says of a case (and each webhook carries), and the shapes of its requests, for the
OpenAPI schema. The submission itself is validated by the new-case form's rules (forms.py)."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classifier.labels import LABELS, display_name

from ..classification.caveats import caveat_for
from ..models import Case, Patient, Review
from ..reviews.selectors import CaseResult, current_review
from . import selectors

DISCLAIMER = ("Research software, not a diagnostic device: every AI suggestion must be confirmed by a qualified "
              "radiologist.")


def base_url(context: dict) -> str:
    """The site's address: the request's own in an answer, CXR_SITE_URL in a webhook."""
    request = context.get("request")
    return request.build_absolute_uri("/").rstrip("/") if request is not None else settings.CXR_SITE_URL


def result_of(case: Case, context: dict) -> CaseResult:
    """The AI result the rule lets us show (`exposed_prediction`) and the review in force, once per case."""
    cache = context.setdefault("results", {})
    if case.pk not in cache:
        cache[case.pk] = CaseResult(prediction=selectors.exposed_prediction(case), review=current_review(case),
                                    refused_reason=case.gate_reason)
    return cache[case.pk]


class AiResultSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=LABELS, help_text="What the AI suggests. Not a diagnosis.")
    label_display = serializers.CharField()
    probabilities = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1),
                                          help_text="Calibrated probability of each label.")
    caveat = serializers.CharField(help_text="What the training data cannot support for this patient, or empty.")
    model_version = serializers.CharField()
    predicted_at = serializers.DateTimeField()


class ReviewSerializer(serializers.Serializer):
    finding = serializers.ChoiceField(choices=Review.Finding.choices)
    finding_display = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    agreed_with_ai = serializers.BooleanField(allow_null=True,
                                              help_text="Null when there was no AI suggestion (a human read).")
    reviewer = serializers.CharField()
    signed_at = serializers.DateTimeField()
    amended = serializers.BooleanField(help_text="True when this review replaces an earlier signed one.")
    amendment_reason = serializers.CharField(allow_blank=True)


class LinksSerializer(serializers.Serializer):
    case = serializers.URLField()
    display_image = serializers.URLField()
    original_image = serializers.URLField()
    heatmap = serializers.URLField(allow_null=True)
    fhir = serializers.URLField(allow_null=True, help_text="The FHIR R4B report, once the case is signed.")


class CaseSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    clinic = serializers.SlugField(source="clinic.code")
    mrn = serializers.CharField(source="patient.mrn", help_text="The patient number, as first entered.")
    birth_year = serializers.IntegerField(source="patient.birth_year", allow_null=True)
    sex = serializers.ChoiceField(source="patient.sex", choices=Patient.Sex.choices)
    view = serializers.ChoiceField(choices=Case.View.choices)
    urgent = serializers.BooleanField()
    symptoms = serializers.CharField(allow_blank=True)
    onset_date = serializers.DateField(allow_null=True)
    spo2 = serializers.IntegerField(allow_null=True)
    notes = serializers.CharField(allow_blank=True)
    submitted_at = serializers.DateTimeField(source="created")
    status = serializers.ChoiceField(choices=Case.Status.choices)
    status_display = serializers.CharField(source="get_status_display")
    status_changed = serializers.DateTimeField()
    failure_reason = serializers.CharField(allow_blank=True)
    needs_human_read = serializers.SerializerMethodField(
        help_text="Why the case gets no AI suggestion (the input check refused the image, or the model is "
                  "uncertain), or empty.")
    ai_result = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    disclaimer = serializers.SerializerMethodField()

    def get_needs_human_read(self, case: Case) -> str:
        return result_of(case, self.context).human_read

    @extend_schema_field(AiResultSerializer(allow_null=True))
    def get_ai_result(self, case: Case):
        suggestion = result_of(case, self.context).suggestion
        if suggestion is None:
            return None
        return AiResultSerializer({
            "label": suggestion.label, "label_display": display_name(suggestion.label),
            "probabilities": {label: suggestion.probabilities.get(label, 0.0) for label in LABELS},
            "caveat": caveat_for(suggestion.label, case.patient.birth_year),
            "model_version": suggestion.model_version.name, "predicted_at": suggestion.created}).data

    @extend_schema_field(ReviewSerializer(allow_null=True))
    def get_review(self, case: Case):
        review = result_of(case, self.context).review
        if review is None:
            return None
        return ReviewSerializer({
            "finding": review.finding, "finding_display": review.get_finding_display(), "note": review.note,
            "agreed_with_ai": review.agreed if review.prediction_id else None,
            "reviewer": review.reviewer.get_full_name() or review.reviewer.get_username(),
            "signed_at": review.signed_at, "amended": review.amends_id is not None,
            "amendment_reason": review.amendment_reason}).data

    @extend_schema_field(LinksSerializer)
    def get_links(self, case: Case):
        base, result = base_url(self.context), result_of(case, self.context)

        def url(name: str, *args) -> str:
            return base + reverse(name, args=[case.public_id, *args])

        return LinksSerializer({
            "case": url("api:case"), "display_image": url("api:case_image", "display"),
            "original_image": url("api:case_image", "original"),
            "heatmap": url("api:case_image", "heatmap") if result.suggestion and result.suggestion.heatmap_name else None,
            "fhir": url("api:case_fhir") if result.review else None}).data

    def get_disclaimer(self, case: Case) -> str:
        return DISCLAIMER


class CaseSubmissionSerializer(serializers.Serializer):
    """The multipart body of a submission: the new-case form's fields, the clinic by its code."""

    image = serializers.FileField(help_text="The chest film: PNG, JPEG or DICOM, detected by content.")
    # Issue 29 (resumable uploads) adds here the id of a finished upload, as an alternative to `image`.
    clinic = serializers.SlugField(required=False, help_text="The clinic's code; may be left out by a caller "
                                                             "with one clinic.")
    mrn = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                help_text="The patient number; blank takes PatientID from a DICOM file.")
    age = serializers.IntegerField(required=False, min_value=0, max_value=130)
    birth_year = serializers.IntegerField(required=False, min_value=1880)
    sex = serializers.ChoiceField(required=False, choices=Patient.Sex.choices)
    view = serializers.ChoiceField(required=False, allow_blank=True, choices=Case.View.choices,
                                   help_text="Blank takes ViewPosition from a DICOM file.")
    symptoms = serializers.CharField(required=False, allow_blank=True)
    onset_date = serializers.DateField(required=False)
    spo2 = serializers.IntegerField(required=False, min_value=50, max_value=100)
    notes = serializers.CharField(required=False, allow_blank=True)
    urgent = serializers.BooleanField(required=False)


class ChangesSerializer(serializers.Serializer):
    cases = CaseSerializer(many=True)
    cursor = serializers.CharField(help_text="Pass it as `cursor` to get the changes after these.")


class ClinicSerializer(serializers.Serializer):
    code = serializers.SlugField()
    name = serializers.CharField()


class CallerSerializer(serializers.Serializer):
    name = serializers.CharField()
    clinics = ClinicSerializer(many=True)
    may_submit = serializers.BooleanField()
    may_read = serializers.BooleanField()
    receives_webhooks = serializers.BooleanField()


class ProblemSerializer(serializers.Serializer):
    detail = serializers.CharField()
