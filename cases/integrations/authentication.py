"""Who calls the API: an integration's token (`Authorization: Bearer cxr_<prefix>_<secret>`), checked on
every request (so a revoked token is refused at once), counted and rate-limited per token and minute.

A browser's session works too (DRF's SessionAuthentication, with its CSRF check on writes).
"""

import hmac

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from ..audit.actors import Actor, act_as
from . import services
from .selectors import token_by_prefix

REFUSED = "Invalid or revoked token."


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace") != self.keyword:
            return None  # not ours: the session may still authenticate
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(REFUSED)
        raw = parts[1].decode(errors="replace")
        prefix = services.prefix_of(raw)
        token = token_by_prefix(prefix) if prefix else None
        if token is None or not hmac.compare_digest(token.digest, services.digest_of(raw)):
            raise exceptions.AuthenticationFailed(REFUSED)
        if token.revoked is not None or not token.integration.active:
            services.count_use(token, request=request, refused=True)
            raise exceptions.AuthenticationFailed(REFUSED)
        request.token_requests = services.count_use(token, request=request)
        act_as(Actor.integration(token.integration, address=request.META.get("REMOTE_ADDR")))
        return token.integration, token

    def authenticate_header(self, request):
        return self.keyword  # a 401, not a 403, for a request without a token


class TokenRateThrottle(throttling.BaseThrottle):
    """CXR_API_RATE_LIMIT requests per token and clock minute, counted by the authentication above
    in ApiTokenUse (the database every web process shares: no cache to configure)."""

    def allow_request(self, request, view):
        return getattr(request, "token_requests", 0) <= settings.CXR_API_RATE_LIMIT

    def wait(self):
        return 60 - timezone.now().second


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "cxr_<prefix>_<secret>",
                "description": "An integration's token, issued once by an administrator in the admin."}
