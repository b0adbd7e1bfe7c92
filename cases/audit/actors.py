"""Who did it: the actor value every audit write takes, and the request's actor for receivers.

Services are given an `Actor` (a user, a label such as "worker@host" or "system", and an
address) instead of an HttpRequest, so the same service serves a page, the admin, a task or
a command. Receivers of model signals have no caller to ask: `RequestActorMiddleware` keeps
the current request's actor in a context variable for them (unset outside a request).
"""

from contextvars import ContextVar
from dataclasses import dataclass

SYSTEM_LABEL = "system"


@dataclass(frozen=True)
class Actor:
    user: object | None = None  # a User; None for the system, a worker, an integration or an anonymous client
    label: str = ""  # the username, "worker@host", "api:<integration>", "system", or the username tried at login
    address: str | None = None

    @classmethod
    def of_user(cls, user, *, address: str | None = None) -> "Actor":
        return cls(user=user, label=user.get_username(), address=address)

    @classmethod
    def of_request(cls, request) -> "Actor":
        # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy sets it.
        address = request.META.get("REMOTE_ADDR")
        user = getattr(request, "user", None)  # authenticate() may pass a bare HttpRequest
        if getattr(user, "is_integration", False):  # an API token's integration (cases.models.Integration)
            return cls.integration(user, address=address)
        if user is not None and user.is_authenticated:
            return cls.of_user(user, address=address)
        return cls(address=address)

    @classmethod
    def worker(cls, host: str) -> "Actor":
        return cls(label=f"worker@{host}")

    @classmethod
    def dicom_node(cls, ae_title: str, address: str | None) -> "Actor":
        return cls(label=f"dicom:{ae_title}", address=address)

    @classmethod
    def integration(cls, integration, *, address: str | None = None) -> "Actor":
        """An outside system calling the API with its token: no user, its name as the label."""
        return cls(label=integration.actor_label, address=address)

    @classmethod
    def system(cls) -> "Actor":
        return cls(label=SYSTEM_LABEL)

    def named(self, label: str) -> "Actor":
        """The same client under the name it gave (a failed login's username)."""
        return Actor(user=self.user, label=label, address=self.address)


NOBODY = Actor()
_current: ContextVar[Actor] = ContextVar("cxr_audit_actor", default=NOBODY)


def current_actor() -> Actor:
    """The actor of the request being served, or `NOBODY` (a shell, a command, the worker)."""
    return _current.get()


def act_as(actor: Actor) -> None:
    """For the rest of this request, receivers record `actor`: the API learns who calls only in the view
    (an integration's token), after the middleware below has set the anonymous client. The middleware's
    reset at the end of the request restores the value from before it, whatever was set in between."""
    _current.set(actor)


class RequestActorMiddleware:
    """Make the request's actor known to audit receivers for the length of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(Actor.of_request(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
