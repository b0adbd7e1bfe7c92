"""The integration API (/api/v1/): thin views that authorise (token or session, rights, the caller's
clinics), call the services and selectors, and answer JSON (FHIR JSON for the report)."""

import re

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ..access import case_for
from ..audit.actors import Actor
from ..intake.services import StorageUnavailable
from ..intake.views import STORAGE_DOWN, image_response
from ..models import Integration
from ..reviews.selectors import current_review
from . import services
from .fhir import report_bundle
from .forms import SubmissionForm
from .permissions import MayRead, MaySubmit
from . import selectors
from .selectors import cases_for, changed_since, clinics_to_submit_to
from .serializers import (CallerSerializer, CaseSerializer, CaseSubmissionSerializer, ChangesSerializer,
                          ProblemSerializer, base_url)

IMAGE_KINDS = ("display", "original", "heatmap")
CURSOR = "^[0-9]{1,18}$"
KEY_HEADER = "Idempotency-Key"
PROBLEM = OpenApiResponse(ProblemSerializer)
REFUSALS = {401: PROBLEM, 403: PROBLEM, 429: PROBLEM}  # no or a revoked token, no right, too many requests
CASE_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The case's id.")


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class NotStored:
    """Every answer may carry patient data: no browser or proxy keeps a copy (the site's middleware cannot
    tell: for DRF the caller is known only in the view, and the schema's view asks nobody)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "private, no-store"
        return response


class InEnglish:
    """The API is for machines: its texts (status and finding names, reasons, errors) stay in English whatever the
    caller's Accept-Language or profile language, as its field names do (issue 32). The serializers' data is made
    inside the view, so the override covers it."""

    def dispatch(self, request, *args, **kwargs):
        with translation.override(None):
            return super().dispatch(request, *args, **kwargs)


class IntegrationAPIView(InEnglish, NotStored, APIView):
    pass


class SchemaView(NotStored, SpectacularAPIView):
    """The OpenAPI schema: public, like the docs page (it describes the API, no data)."""

    authentication_classes = []
    permission_classes = []


class CasesView(IntegrationAPIView):
    parser_classes = [MultiPartParser, FormParser]

    def get_permissions(self):
        return [*super().get_permissions(), MaySubmit() if self.request.method == "POST" else MayRead()]

    @extend_schema(
        operation_id="list_changed_cases", summary="Cases changed since a cursor",
        parameters=[OpenApiParameter("cursor", OpenApiTypes.STR, pattern=CURSOR, description=(
            "The `cursor` of the previous answer; leave out to start from the beginning."))],
        responses={200: ChangesSerializer, 400: PROBLEM, **REFUSALS})
    def get(self, request):
        """The caller's cases whose status, result or details changed after the cursor, oldest change first.
        Poll with the `cursor` each answer gives; an empty `cases` means nothing new."""
        raw = request.query_params.get("cursor", "0") or "0"
        if not re.fullmatch(CURSOR, raw):
            return Response({"detail": "The cursor is not one this API gave."}, status=status.HTTP_400_BAD_REQUEST)
        changes = changed_since(request.user, cursor=int(raw), limit=settings.CXR_API_PAGE_SIZE)
        return Response({"cases": CaseSerializer(changes.cases, many=True, context={"request": request}).data,
                         "cursor": str(changes.cursor)})

    @extend_schema(
        operation_id="submit_case", summary="Submit a case",
        parameters=[OpenApiParameter(KEY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description=(
            "Any unique string (a UUID) of up to 255 characters. Sent again with the same body it answers "
            "the same case, and makes no second one; with another body it answers 422."))],
        request={"multipart/form-data": CaseSubmissionSerializer},
        responses={201: CaseSerializer, 400: PROBLEM, 415: PROBLEM, 422: PROBLEM, 503: PROBLEM, **REFUSALS})
    def post(self, request):
        """Submit a chest film with its clinical details: the new-case form's fields and checks. The case is
        queued for the AI at once; follow it with its `links.case`, "changed since" or a webhook."""
        key = request.headers.get(KEY_HEADER, "")
        if len(key) > 255 or not key.isprintable():
            return Response({"detail": f"{KEY_HEADER} must be at most 255 printable characters."},
                            status=status.HTTP_400_BAD_REQUEST)
        fingerprint = services.fingerprint_of(request.POST, request.FILES) if key else ""
        try:
            replayed = services.replayed_case(viewer=request.user, key=key, fingerprint=fingerprint) if key else None
        except services.IdempotencyConflict:
            return key_reused()
        if replayed is None:
            form = SubmissionForm(request.POST, request.FILES, clinics=clinics_to_submit_to(request.user))
            if not form.is_valid():
                errors = {field: [error["message"] for error in errors]
                          for field, errors in form.errors.get_json_data().items()}
                return Response({"detail": "The case was not submitted: " + " ".join(
                    f"{field}: {' '.join(messages)}" for field, messages in errors.items()), "errors": errors},
                    status=status.HTTP_400_BAD_REQUEST)
            try:
                case, _ = services.submit_through_api(viewer=request.user, actor=Actor.of_request(request), form=form,
                                                      key=key, fingerprint=fingerprint)
            except StorageUnavailable:
                return Response({"detail": STORAGE_DOWN}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
            except services.IdempotencyConflict:
                return key_reused()
        else:
            case = replayed
        response = Response(CaseSerializer(case, context={"request": request}).data, status=status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["case"]
        return response


def key_reused() -> Response:
    return Response({"detail": f"This {KEY_HEADER} was used before with another request body."},
                    status=status.HTTP_422_UNPROCESSABLE_ENTITY)


class CaseView(IntegrationAPIView):
    permission_classes = [*APIView.permission_classes, MayRead]

    @extend_schema(operation_id="get_case", summary="A case", parameters=[CASE_ID],
                   responses={200: CaseSerializer, 404: PROBLEM, **REFUSALS})
    def get(self, request, public_id):
        """Its status, the AI result (where the clinic's AI result may be shown) and the signed review in force."""
        case = case_for(request, public_id, queryset=cases_for(request.user))
        return Response(CaseSerializer(case, context={"request": request}).data)


class CaseImageView(IntegrationAPIView):
    permission_classes = [*APIView.permission_classes, MayRead]

    @extend_schema(
        operation_id="get_case_image", summary="A case's film, display copy or heatmap",
        parameters=[CASE_ID, OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=IMAGE_KINDS,
                                              description="display (PNG), original (as sent) or heatmap (PNG)")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: PROBLEM, **REFUSALS})
    def get(self, request, public_id, kind):
        """Audited, like every image view; the heatmap only with an AI suggestion that may be shown."""
        case = case_for(request, public_id, queryset=cases_for(request.user))
        prediction = selectors.exposed_prediction(case) if kind == "heatmap" else None
        shown = prediction is not None and prediction.gives_suggestion and prediction.heatmap_name
        heatmap = prediction if shown else None
        return image_response(case=case, kind=kind, heatmap=heatmap, actor=Actor.of_request(request))


class CaseFhirView(IntegrationAPIView):
    permission_classes = [*APIView.permission_classes, MayRead]
    renderer_classes = [FhirJsonRenderer, JSONRenderer]

    @extend_schema(
        operation_id="get_case_fhir", summary="A signed case as FHIR R4B", parameters=[CASE_ID],
        responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT, 404: PROBLEM, **REFUSALS})
    def get(self, request, public_id):
        """A Bundle (collection): the DiagnosticReport with the signed finding, the patient identifier and the
        ImagingStudy reference, and an Observation for the AI suggestion where it may be shown."""
        case = case_for(request, public_id, queryset=cases_for(request.user))
        review = current_review(case)
        if review is None:
            return Response({"detail": "The case has no signed review yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response(report_bundle(case=case, review=review, prediction=selectors.exposed_prediction(case),
                                      base=base_url({"request": request})))


class CallerView(IntegrationAPIView):
    @extend_schema(operation_id="get_caller", summary="Who is calling", responses={200: CallerSerializer, **REFUSALS})
    def get(self, request):
        """The integration this token belongs to (or the signed-in user): its clinics and rights."""
        caller, clinics = request.user, clinics_to_submit_to(request.user)
        data = {"name": caller.name if isinstance(caller, Integration) else caller.get_username(),
                "clinics": [{"code": clinic.code, "name": clinic.name} for clinic in clinics.order_by("code")],
                "may_submit": MaySubmit().has_permission(request, self), "may_read": MayRead().has_permission(request, self),
                "receives_webhooks": bool(getattr(caller, "receives_webhooks", False))}
        return Response(CallerSerializer(data).data)


@require_GET
@login_not_required
def show_api_docs(request):
    """The schema in Swagger UI, from our own static files (drf-spectacular-sidecar): no CDN, no inline script."""
    return render(request, "integrations/api_docs.html")
