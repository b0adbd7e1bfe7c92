"""Resumable uploads (tus 1.0: core, creation, termination, checksum, expiration), for a clinic whose
link drops mid-film: the bytes arrive in chunks, the offset is kept here, and a client that lost its
connection asks for the offset and sends the rest.

One path into the product: when the last byte arrives the film and the details sent with the upload
(its Upload-Metadata) go through the API's submission, so the new-case form's checks (SubmissionForm,
checks.py) and `submit_case`, with the client's submission id as the Idempotency-Key: one case per
submission id, whichever way and however often it arrives. A film the checks refuse is refused like
a form upload and leaves nothing: no case, no partial file, no upload.

The clients (the new-case page, bin/forward) send the whole film in one PATCH: every request costs
authentication, token counting and commits, and pieces made the server's CPU per case 1.2x (1 MB) to
2.3x (256 KB) that of one POST. Resuming does not need pieces: the bytes are written as they arrive
and the offset recorded at checkpoints (a slow link's film: every 1 MB and 5 s; a fast one's: none)
and when the connection ends, dropped or not, so the client asks the offset and sends the rest. A per-request checksum cannot be checked on a
body cut short, so the film's integrity is checked once, whole, at the finish against the SHA-256 the
client put in the Upload-Metadata (`sha256`, hex). The checksum extension still serves clients that
send pieces with one: such a piece is kept only whole and matching.
"""

import base64
import binascii
import dataclasses
import hashlib
import os
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404, QueryDict
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext

from classifier.imaging import ImageRejected

from .. import storage
from ..audit.actors import Actor
from ..integrations import services as api
from ..integrations.forms import SubmissionForm
from ..integrations.selectors import caller_key, clinics_to_submit_to
from ..models import Case, IdempotencyKey, Upload
from ..storage.columns import discard
from .checks import check_size
from .selectors import same_image_lately

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUMS = {"sha1": hashlib.sha1, "md5": hashlib.md5, "sha256": hashlib.sha256}
# The body is read in 1 MB pieces: gunicorn's reader takes up to 1 MB per recv() and, for smaller reads,
# copies what it holds back again each time (64 KB reads cost more CPU than the whole upload's checks).
PIECE = 1024 * 1024
# The case's details an upload may carry in its metadata: the new-case form's fields (the film aside).
DETAIL_FIELDS = tuple(name for name in SubmissionForm.base_fields if name != "image")
SUBMISSION = "submission"  # the client's id for this submission (a UUID): its Idempotency-Key
DIGEST = "sha256"  # the whole film's SHA-256 (hex), checked when the last byte has arrived


class UploadError(Exception):
    """A request the upload cannot take; `status` is the HTTP answer, str(error) the reason."""
    status = 400

    def __init__(self, message: str, *, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


class OffsetMismatch(UploadError):
    status = 409


class Busy(UploadError):
    status = 423  # tus clients retry this: the other request is about to finish


class TooLarge(UploadError):
    status = 413


class ChecksumMismatch(UploadError):
    status = 460  # tus 1.0 checksum extension


class Refused(UploadError):
    status = 422  # the film or its details: the reason is the form's


def metadata_of(header: str) -> dict[str, str]:
    """Upload-Metadata ("key base64value,key2 base64value2") decoded; UploadError when malformed."""
    found = {}
    for pair in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise UploadError(gettext("The metadata value of “%(key)s” is not base64 of UTF-8 text.")
                              % {"key": key[:40]}) from None
    return found


def create_upload(*, viewer, length: int, metadata: dict[str, str]) -> Upload:
    """A new upload of `length` bytes. For a submission id already filed, an upload that is complete at
    once and names the case filed before: a client that lost the answer to its last chunk and starts
    again gets its case, not a second one."""
    try:
        check_size(length)
    except ImageRejected as error:
        raise TooLarge(str(error)) from None
    submission = metadata.get(SUBMISSION, "")
    if len(submission) > 255 or not submission.isprintable():
        raise UploadError(gettext("The submission id must be at most 255 printable characters."))
    digest = metadata.get(DIGEST)
    if digest is not None and not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest.lower())):
        raise UploadError(gettext("The sha256 metadata must be the film's SHA-256 in 64 hexadecimal digits."))
    expires = timezone.now() + timedelta(seconds=settings.CXR_UPLOAD_EXPIRY_SECONDS)
    filed = IdempotencyKey.objects.filter(caller=caller_key(viewer), key=submission).first() if submission else None
    if filed is not None:
        return Upload.objects.create(caller=caller_key(viewer), length=length, offset=length, metadata=metadata,
                                     case=filed.case, expires=expires)
    name = storage.create_partial()
    try:
        return Upload.objects.create(caller=caller_key(viewer), length=length, metadata=metadata,
                                     partial_name=name, expires=expires)
    except BaseException:
        discard([name])
        raise


def upload_for(viewer, public_id) -> Upload:
    """The caller's own upload: another's, like one that does not exist, is a 404."""
    upload = Upload.objects.filter(public_id=public_id, caller=caller_key(viewer)).first()
    if upload is None:
        raise Http404("No such upload")
    return upload


def append(*, upload: Upload, viewer, actor: Actor, offset: int, stream, size: int,
           checksum: str | None = None) -> Upload:
    """Write `size` bytes of `stream` at `offset`; when they are the last ones, file the case.

    One writer at a time per upload (the partial file's lock, across processes): the offset is read
    again under the lock, so two requests sent at one offset cannot both write. Without a checksum the
    bytes go to disk as they arrive, the offset recorded (the bytes synced first) at checkpoints
    (CXR_UPLOAD_CHECKPOINT_BYTES and _SECONDS apart), and a dropped connection keeps what came (the client resumes from there); with one the
    chunk is kept only whole and matching.
    """
    if upload.case_id is not None or not upload.partial_name:
        raise OffsetMismatch(gettext("This upload is complete."))
    try:
        with storage.writing_partial(upload.partial_name) as handle:
            upload.refresh_from_db()
            if offset != upload.offset:
                raise OffsetMismatch(gettext("The upload is at byte %(at)s, not %(offset)s.") % {"at": upload.offset,
                                                                                                   "offset": offset})
            if size > upload.length - offset:
                raise TooLarge(gettext("The chunk goes past the upload's length."))
            handle.seek(offset)
            if checksum:
                received = _write_checked(handle, stream, size, checksum)
            else:
                received = _write_as_it_comes(handle, stream, size, on_checkpoint=lambda count: _record(
                    upload, handle, offset + count))
            if offset + received < upload.length:
                _record(upload, handle, offset + received)
            else:
                handle.flush()  # read back by _finish (no sync: the case's file is stored synced)
                _finish(upload, viewer=viewer, actor=actor)
    except storage.PartialBusy:
        raise Busy(gettext("Another request is writing this upload; ask for its offset and try again.")) from None
    except FileNotFoundError:  # terminated or swept meanwhile
        raise Http404("No such upload") from None
    upload.refresh_from_db()
    return upload


def terminate(upload: Upload) -> None:
    """The upload and its bytes removed (tus termination); a case it filed stays."""
    Upload.objects.filter(pk=upload.pk).delete()
    discard([upload.partial_name])


def _record(upload: Upload, handle, offset: int) -> None:
    """The bytes so far on disk for good, then the offset: the offset never names bytes a crash could lose."""
    handle.flush()
    os.fsync(handle.fileno())
    Upload.objects.filter(pk=upload.pk).update(
        offset=offset, expires=timezone.now() + timedelta(seconds=settings.CXR_UPLOAD_EXPIRY_SECONDS))


def _write_as_it_comes(handle, stream, size: int, *, on_checkpoint) -> int:
    received, last, last_time = 0, 0, time.monotonic()
    while received < size:
        if (received - last >= settings.CXR_UPLOAD_CHECKPOINT_BYTES
                and time.monotonic() - last_time >= settings.CXR_UPLOAD_CHECKPOINT_SECONDS):
            on_checkpoint(received)
            last, last_time = received, time.monotonic()
        try:
            piece = stream.read(min(PIECE, settings.CXR_UPLOAD_CHECKPOINT_BYTES, size - received))
        except Exception:  # the connection dropped: keep what came (the server's errors vary)
            break
        if not piece:
            break
        handle.write(piece)
        received += len(piece)
    return received


def _write_checked(handle, stream, size: int, checksum: str) -> int:
    algorithm, _, expected = checksum.partition(" ")
    if algorithm not in CHECKSUMS:
        raise UploadError(gettext("Checksum algorithm “%(algorithm)s” is not one of %(known)s.")
                          % {"algorithm": algorithm[:20], "known": ", ".join(CHECKSUMS)})
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise UploadError(gettext("The chunk arrived incomplete."))
    try:
        matches = base64.b64decode(expected, validate=True) == CHECKSUMS[algorithm](data).digest()
    except binascii.Error:
        matches = False
    if not matches:
        raise ChecksumMismatch(gettext("The chunk's checksum does not match its bytes; send it again."))
    handle.write(data)
    return size


def _finish(upload: Upload, *, viewer, actor: Actor) -> Case:
    """File the whole film as the API would, under the submission id; then mark the upload complete.

    The case commits first (with its Idempotency-Key); a crash before the upload is marked leaves the
    offset short, the client sends the last chunk again, and the key answers the case already filed.
    Storage errors (StorageUnavailable) leave the upload as it was, for the same retry.
    """
    data = storage.path_of(upload.partial_name).read_bytes()
    sha256 = storage.sha256_of(data)
    digest = upload.metadata.get(DIGEST)
    if digest is not None and sha256 != digest.lower():
        terminate(upload)
        raise ChecksumMismatch(gettext("The film that arrived is not the one sent (its SHA-256 differs: it was "
                                       "damaged on the way). Nothing was kept: send it again."))
    fields = QueryDict(mutable=True)
    for name in DETAIL_FIELDS:
        if name in upload.metadata:
            fields[name] = upload.metadata[name]
    files = MultiValueDict({"image": [SimpleUploadedFile(upload.metadata.get("filename", "film")[:255], data)]})
    key = upload.metadata.get(SUBMISSION) or f"upload:{upload.public_id}"
    fingerprint = api.fingerprint_of(fields, files)
    try:
        case = api.replayed_case(viewer=viewer, key=key, fingerprint=fingerprint)
        if case is None:
            form = SubmissionForm(fields, files, clinics=clinics_to_submit_to(viewer))
            if not form.is_valid():
                errors = {field: [error["message"] for error in errors]
                          for field, errors in form.errors.get_json_data().items()}
                _refuse(upload, gettext("The case was not submitted: %(errors)s") % {"errors": " ".join(
                    f"{field}: {' '.join(messages)}" for field, messages in errors.items())}, errors=errors)
            if upload.metadata.get("ask_duplicate") == "true" and upload.metadata.get("file_again") != "true":
                # The new-case page asks before filing the same image for the same patient again (issue 27):
                # refused here, the page posts the plain form, whose answer asks the question.
                if same_image_lately(viewer, clinic=form.cleaned_data["clinic"], mrn=form.cleaned_data["mrn"],
                                     sha256=sha256) is not None:
                    _refuse(upload, gettext("The same image was filed for this patient a few minutes ago."))
            # The film's SHA-256 is known (computed above): submit_case need not hash 20 MB again.
            form.cleaned_data["image"] = dataclasses.replace(form.cleaned_data["image"], sha256=sha256)
            case, _ = api.submit_through_api(viewer=viewer, actor=actor, form=form, key=key, fingerprint=fingerprint)
    except api.IdempotencyConflict:
        _refuse(upload, gettext("This submission id was used before for another film or other details."))
    Upload.objects.filter(pk=upload.pk).update(offset=upload.length, case=case, partial_name="")
    discard([upload.partial_name])
    return case


def _refuse(upload: Upload, message: str, *, errors: dict | None = None):
    terminate(upload)
    raise Refused(message, errors=errors)
