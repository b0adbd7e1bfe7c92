"""The classification side of the case admin: failure causes, and retrying failed cases in bulk.

Filter the case list by "failure cause" (say, storage, after a disk was full), select them
all, and retry them with one action; each retried case is audited as a single retry is.
Mixed into cases.admin.CaseAdmin, which registers it.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy, ngettext

from .. import access
from ..audit.actors import Actor
from .services import retry_failed_cases


class CaseClassificationAdminMixin:
    classification_filters = ["failure_cause"]
    classification_actions = ["retry_selected_failed_cases"]

    def has_retry_permission(self, request):
        return access.can_retry(request.user)  # as on the case page

    @admin.action(description=gettext_lazy("Retry classification of the selected failed cases"), permissions=["retry"])
    def retry_selected_failed_cases(self, request, queryset):
        retried = retry_failed_cases(cases=queryset, actor=Actor.of_request(request))
        skipped = queryset.count() - retried
        # English keeps its "(s)"; the plural forms are for languages that need them.
        self.message_user(request, ngettext("Queued %(count)s failed case(s) for classification again.",
                                            "Queued %(count)s failed case(s) for classification again.", retried)
                          % {"count": retried}, messages.SUCCESS)
        if skipped:
            self.message_user(request, ngettext("%(count)s selected case(s) were not failed; left as they are.",
                                                "%(count)s selected case(s) were not failed; left as they are.",
                                                skipped) % {"count": skipped}, messages.WARNING)
