"""The tus 1.0 endpoints (cases/intake/uploads.py does the work): /uploads/ to create, /uploads/<id> to
ask the offset (HEAD), append (PATCH) and terminate (DELETE).

Every request is authorised as the API's are: an integration's token with the right to submit, or a
signed-in user who may submit (with the CSRF check on writes). An upload is found only among the
caller's own: another's answers 404. Left out of the OpenAPI schema: tus is its own protocol
(https://tus.io/protocols/resumable-upload), which every tus client speaks.
"""

from django.conf import settings
from django.contrib import messages
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..audit.actors import Actor
from ..integrations.permissions import MaySubmit
from ..integrations.views import NotStored
from ..models import Integration
from .services import StorageUnavailable
from .uploads import CHECKSUMS, EXTENSIONS, VERSION, UploadError, append, create_upload, metadata_of, terminate, \
    upload_for
from .views import STORAGE_DOWN

OFFSET_STREAM = "application/offset+octet-stream"


class VersionUnsupported(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = f"This server speaks tus {VERSION}: send the Tus-Resumable header."


@extend_schema(exclude=True)
class TusView(NotStored, APIView):
    def get_permissions(self):
        # OPTIONS tells what the server supports, to anyone; everything else needs the right to submit.
        return [] if self.request.method == "OPTIONS" else [IsAuthenticated(), MaySubmit()]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != VERSION:
            raise VersionUnsupported

    def handle_exception(self, exc):
        if isinstance(exc, UploadError):
            return Response({"detail": str(exc), **({"errors": exc.errors} if exc.errors else {})}, status=exc.status)
        if isinstance(exc, StorageUnavailable):
            return Response({"detail": STORAGE_DOWN}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = VERSION
        if response.status_code == status.HTTP_412_PRECONDITION_FAILED:
            response["Tus-Version"] = VERSION
        return response

    def options(self, request, *args, **kwargs):
        return Response(status=status.HTTP_204_NO_CONTENT, headers={
            "Tus-Version": VERSION, "Tus-Extension": EXTENSIONS, "Tus-Max-Size": str(settings.CXR_UPLOAD_MAX_BYTES),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS)})


class UploadsView(TusView):
    def post(self, request):
        """Creation: Upload-Length (required) and Upload-Metadata (the case's details, filename, submission)."""
        length = request.headers.get("Upload-Length", "")
        if not length.isdigit():
            raise UploadError("Send the file's size in Upload-Length (deferred lengths are not supported).")
        upload = create_upload(viewer=request.user, length=int(length),
                               metadata=metadata_of(request.headers.get("Upload-Metadata", "")))
        return Response(status=status.HTTP_201_CREATED, headers={
            "Location": request.build_absolute_uri(reverse("cases:upload", args=[upload.public_id])),
            **upload_headers(upload)})


class UploadView(TusView):
    def head(self, request, public_id):
        return Response(status=status.HTTP_200_OK, headers=upload_headers(upload_for(request.user, public_id)))

    def patch(self, request, public_id):
        upload = upload_for(request.user, public_id)
        if request.content_type.split(";")[0].strip() != OFFSET_STREAM:
            return Response({"detail": f"Send the bytes as {OFFSET_STREAM}."},
                            status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        offset, size = request.headers.get("Upload-Offset", ""), request.headers.get("Content-Length", "0") or "0"
        if not offset.isdigit() or not size.isdigit():
            raise UploadError("Send Upload-Offset and Content-Length as whole numbers.")
        upload = append(upload=upload, viewer=request.user, actor=Actor.of_request(request), offset=int(offset),
                        stream=request.stream, size=int(size), checksum=request.headers.get("Upload-Checksum"))
        if upload.case_id is not None and not isinstance(request.user, Integration):
            messages.success(request._request, gettext("Case submitted."))  # on the case page the browser goes to, as from the form
        return Response(status=status.HTTP_204_NO_CONTENT, headers=upload_headers(upload))

    def delete(self, request, public_id):
        terminate(upload_for(request.user, public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def upload_headers(upload) -> dict[str, str]:
    """The offset and length; once filed, where the case is (CXR-Case: the API's URL of it)."""
    headers = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length),
               "Upload-Expires": upload.expires.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    if upload.case_id is not None:
        headers["CXR-Case"] = reverse("api:case", args=[upload.case.public_id])
    return headers
