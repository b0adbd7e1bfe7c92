"""The review side of the case admin: prediction and review columns and filters, read-only
predictions and reviews on the case page, and the radiologists' bulk-confirm action.

Mixed into cases.admin.CaseAdmin, which owns the rest of the case admin and registers it.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext, gettext_lazy, ngettext

from .. import access
from ..audit.actors import Actor
from ..models import Case, Prediction, Review
from ..words import finding_name
from .forms import LABEL_CHOICES
from .selectors import HUMAN_READ, with_outcome
from .services import ReviewError, confirm_review


class PredictedLabelFilter(admin.SimpleListFilter):
    title = gettext_lazy("AI suggestion")
    parameter_name = "predicted"

    def lookups(self, request, model_admin):
        return [(value, name) for value, name in LABEL_CHOICES if value]

    def queryset(self, request, queryset):
        if self.value() == HUMAN_READ:
            return queryset.exclude(gate_reason="")
        return queryset.filter(predicted_label=self.value()) if self.value() else queryset


class FinalFindingFilter(admin.SimpleListFilter):
    title = gettext_lazy("final finding")
    parameter_name = "finding"

    def lookups(self, request, model_admin):
        return Review.Finding.choices

    def queryset(self, request, queryset):
        return queryset.filter(final_finding=self.value()) if self.value() else queryset


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PredictionInline(ReadOnlyInline):
    model = Prediction
    fields = readonly_fields = ["created", "label", "probabilities", "model_version", "inference_ms", "worker_host"]

    def get_queryset(self, request):
        return super().get_queryset(request).shown()  # silent-trial predictions live on the oversight page


class ReviewInline(ReadOnlyInline):
    model = Review
    fk_name = "case"
    fields = readonly_fields = ["signed_at", "reviewer", "finding", "agreed", "note", "prediction", "amends",
                                "amendment_reason"]


class CaseReviewAdminMixin:
    review_columns = ["ai_suggestion", "ai_confidence", "final_finding"]
    review_filters = [PredictedLabelFilter, FinalFindingFilter]
    inlines = [PredictionInline, ReviewInline]
    review_actions = ["confirm_selected_predictions"]

    def get_queryset(self, request):
        # The admin shows each user only the cases they may see, by the rule every page uses.
        return with_outcome(super().get_queryset(request).visible_to(request.user))

    @admin.display(description=gettext_lazy("AI suggestion"), ordering="predicted_label")
    def ai_suggestion(self, case):
        return finding_name(case.predicted_label) or "—"

    @admin.display(description=gettext_lazy("confidence"), ordering="confidence")
    def ai_confidence(self, case):
        return "—" if case.confidence is None else f"{case.confidence:.0%}"

    @admin.display(description=gettext_lazy("final finding"), ordering="final_finding")
    def final_finding(self, case):
        return finding_name(case.final_finding) or "—"

    def has_review_permission(self, request):
        return access.can_review(request.user)

    @admin.action(description=gettext_lazy("Confirm the AI suggestion of the selected cases (one signed review each)"),
                  permissions=["review"])
    def confirm_selected_predictions(self, request, queryset):
        signed, refused = 0, []
        for case in queryset.select_related("patient"):
            if case.status != Case.Status.PREDICTED:
                refused.append(gettext("%(mrn)s: not awaiting review") % {"mrn": case.patient.mrn})
                continue
            try:
                confirm_review(case=case, reviewer=request.user, actor=Actor.of_request(request))
                signed += 1
            except ReviewError as error:
                refused.append(f"{case.patient.mrn}: {error}")
        if signed:
            # English keeps its "(s)"; the plural forms are for languages that need them.
            self.message_user(request, ngettext("Signed %(count)s review(s) confirming the AI suggestion.",
                                                "Signed %(count)s review(s) confirming the AI suggestion.", signed)
                              % {"count": signed}, messages.SUCCESS)
        if refused:
            self.message_user(request, gettext("Not signed: %(reasons)s") % {"reasons": "; ".join(refused)},
                              messages.WARNING)
