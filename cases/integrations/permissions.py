"""The rights of an integration's tokens, and the matching role checks for a signed-in user."""

from rest_framework.permissions import BasePermission

from ..access import can_list_cases, can_submit
from ..models import Integration


class MaySubmit(BasePermission):
    message = "This caller may not submit cases."

    def has_permission(self, request, view):
        caller = request.user
        return caller.may_submit if isinstance(caller, Integration) else can_submit(caller)


class MayRead(BasePermission):
    message = "This caller may not read cases."

    def has_permission(self, request, view):
        caller = request.user
        return caller.may_read if isinstance(caller, Integration) else can_list_cases(caller)
