"""Integrations' writes: tokens issued and revoked, each token's use counted (and audited once a minute),
the webhook secret, and a case submitted through the API at most once per Idempotency-Key."""

import hashlib
import json
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..audit.actors import Actor
from ..audit.services import record
from ..intake.services import IntegrationOrigin, submit_case
from ..models import ApiToken, ApiTokenUse, AuditEvent, Case, IdempotencyKey, Integration
from .forms import SubmissionForm
from .selectors import caller_key

TOKEN_START = "cxr"


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with another request body."""


# --- Tokens ----------------------------------------------------------------------------------------

def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def prefix_of(raw: str) -> str:
    """The public part of `cxr_<prefix>_<secret>`, or "" for anything else."""
    start, _, rest = raw.partition("_")
    prefix, _, secret = rest.partition("_")
    return prefix if start == TOKEN_START and prefix and secret else ""


def issue_token(*, integration: Integration, actor: Actor) -> str:
    """A new token for the integration: returned once, kept only as its digest."""
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_START}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(integration=integration, prefix=prefix, digest=digest_of(raw),
                                        created_by=actor.user)
        record(AuditEvent.Action.API_TOKEN_ISSUED, actor=actor, details=_token_details(token))
    return raw


def revoke_token(*, token: ApiToken, actor: Actor) -> bool:
    """Refused from the next request on; False when it was revoked already."""
    with transaction.atomic():
        if not ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now()):
            return False
        record(AuditEvent.Action.API_TOKEN_REVOKED, actor=actor, details=_token_details(token))
    return True


def issue_webhook_secret(*, integration: Integration, actor: Actor) -> str:
    """A new signing key for the integration's webhooks, returned once; later tries sign with it."""
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        Integration.objects.filter(pk=integration.pk).update(webhook_secret=secret)
        record(AuditEvent.Action.WEBHOOK_SECRET_ISSUED, actor=actor, details={"integration": integration.name})
    return secret


def count_use(token: ApiToken, *, request, refused: bool = False) -> int:
    """Count one request of the token in this minute; the number it made this minute.

    The minute's first request is audited (api_token_used, or access_denied for a refused token):
    one row per token and minute instead of one per request, which polling would flood the trail
    with. The exact counts stay in ApiTokenUse, shown with the token in the admin.
    """
    minute = timezone.now().replace(second=0, microsecond=0)
    column = "refused" if refused else "requests"
    with transaction.atomic():
        use, created = ApiTokenUse.objects.get_or_create(token=token, minute=minute)
        first_refusal = refused and ApiTokenUse.objects.filter(pk=use.pk, refused=0).exists()
        ApiTokenUse.objects.filter(pk=use.pk).update(**{column: F(column) + 1})
        count = ApiTokenUse.objects.values_list(column, flat=True).get(pk=use.pk)
        if not refused and count > settings.CXR_API_RATE_LIMIT:
            ApiTokenUse.objects.filter(pk=use.pk).update(throttled=F("throttled") + 1)
        if first_refusal or (created and not refused):
            action = AuditEvent.Action.ACCESS_DENIED if refused else AuditEvent.Action.API_TOKEN_USED
            record(action, actor=Actor.integration(token.integration, address=request.META.get("REMOTE_ADDR")),
                   details={**_token_details(token), "minute": minute.isoformat(),
                            "request": f"{request.method} {request.path}"})
    return count


def _token_details(token: ApiToken) -> dict:
    return {"integration": token.integration.name, "token": token.prefix}


# --- Submitting ------------------------------------------------------------------------------------

def fingerprint_of(fields, files) -> str:
    """What makes two submissions "the same body": every field's values and every file's name and
    SHA-256, in a fixed order (the multipart encoding itself differs from one send to the next)."""
    digest = hashlib.sha256()
    for name in sorted(fields):
        digest.update(json.dumps(["field", name, fields.getlist(name)]).encode())
    for name in sorted(files):
        for upload in files.getlist(name):
            content = hashlib.sha256()
            for chunk in upload.chunks():
                content.update(chunk)
            upload.seek(0)
            digest.update(json.dumps(["file", name, upload.name, content.hexdigest()]).encode())
    return digest.hexdigest()


def replayed_case(*, viewer, key: str, fingerprint: str) -> Case | None:
    """The case this caller's key created, if any; IdempotencyConflict when it came with another body."""
    bound = IdempotencyKey.objects.select_related("case").filter(caller=caller_key(viewer), key=key).first()
    if bound is None:
        return None
    if bound.fingerprint != fingerprint:
        raise IdempotencyConflict
    return bound.case


def submit_through_api(*, viewer, actor: Actor, form: SubmissionForm, key: str = "",
                       fingerprint: str = "") -> tuple[Case, bool]:
    """Submit the form's case; with a key, at most once: (the case, whether it was made before).
    The caller answers a key already bound (`replayed_case`) before validating the form.

    The key is bound to the case inside the case's own transaction (`submit_case(also=...)`), so a
    case never exists without its key, nor a key without its case. Two requests with one key at the
    same moment both do the work; the second to commit fails on the key's unique constraint, its
    files are removed, and it answers the first one's case.
    """
    def bind(case: Case) -> None:
        IdempotencyKey.objects.create(caller=caller_key(viewer), key=key, fingerprint=fingerprint, case=case)

    origin = IntegrationOrigin(integration=viewer) if isinstance(viewer, Integration) else None
    try:
        case = submit_case(actor=actor, clinic=form.cleaned_data["clinic"], details=form.details(),
                           upload=form.cleaned_data["image"], origin=origin, also=bind if key else None)
    except IntegrityError:
        earlier = replayed_case(viewer=viewer, key=key, fingerprint=fingerprint) if key else None
        if earlier is None:
            raise
        return earlier, True
    return case, False
