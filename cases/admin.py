"""Clinics, users and roles are managed here; clinical records are shown, not rewritten.

What a case recorded (the image and its hash, the workflow status, predictions, reviews) is
read-only for everyone, superusers included, and cases are never deleted: correcting them
goes through the workflow services, which audit every change. Each feature package keeps
its own admin classes (reviews.admin, audit.admin); every registration is here, explicitly.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils.translation import gettext, gettext_lazy

from classifier.models import ModelVersion

from .access import ADMIN_GROUP
from .audit.admin import AuditEventAdmin
from .classification.admin import CaseClassificationAdminMixin
from .dicom.admin import DicomNodeAdmin
from .integrations.admin import ApiTokenAdmin, IntegrationAdmin, NotificationAdmin, WebhookEventAdmin
from .models import (ApiToken, AuditEvent, Case, Clinic, ClinicAIState, DicomNode, DicomResult, Integration,
                     Notification, Patient, Prediction, Review, WebhookEvent)
from .oversight.admin import ModelVersionTrialAdmin
from .reviews.admin import CaseReviewAdminMixin
from .validation.admin import ClinicAIStateAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by whoever has the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "member_count", "read_first", "created"]
    search_fields = ["name", "code"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"code": ["name"]}

    @admin.display(description=gettext_lazy("members"))
    def member_count(self, clinic):
        return clinic.members.count()

    def has_delete_permission(self, request, obj=None):
        return False  # cases and patients point at it; a clinic that closes keeps its records


class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "clinic", "birth_year", "sex", "created"]
    list_filter = ["clinic", "sex"]
    search_fields = ["mrn"]
    readonly_fields = ["public_id", "clinic", "mrn", "created"]  # demographics may be corrected

    def has_add_permission(self, request):
        return False  # patients are created by case intake

    def has_delete_permission(self, request, obj=None):
        return False


class CaseAdmin(CaseReviewAdminMixin, CaseClassificationAdminMixin, admin.ModelAdmin):
    list_display = ["public_id", "patient", "clinic", "status", "urgent", "created",
                    *CaseReviewAdminMixin.review_columns]
    # A "created" filter instead of date_hierarchy: listing the dates scanned every case
    # (most of the list's 740 ms at 100,000 cases).
    list_filter = ["status", *CaseReviewAdminMixin.review_filters, *CaseClassificationAdminMixin.classification_filters,
                   "clinic", "urgent", "view", "created"]
    actions = [*CaseReviewAdminMixin.review_actions, *CaseClassificationAdminMixin.classification_actions]
    search_fields = ["public_id", "patient__mrn"]
    list_select_related = ["patient", "patient__clinic", "clinic"]
    show_full_result_count = False
    # Only the free notes and the urgency flag may be corrected; the rest is what was
    # submitted, classified and reviewed.
    readonly_fields = [f.name for f in Case._meta.fields if f.name not in ("id", "notes", "urgent")]

    def has_add_permission(self, request):
        return False  # only intake creates cases, with their image and hash

    def has_delete_permission(self, request, obj=None):
        return False


class PredictionRoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [("served", "served (shown)"), ("trial", "silent trial (shown to nobody)")]

    def queryset(self, request, queryset):
        if self.value() in ("served", "trial"):
            return queryset.filter(trial=self.value() == "trial")
        return queryset


class PredictionAdmin(ReadOnlyAdmin):
    list_display = ["case", "label", "model_version", "role", "gate", "inference", "created"]
    list_filter = [PredictionRoleFilter, "label", "model_version"]
    list_select_related = ["case", "case__patient", "model_version"]
    fields = ["case", "model_version", "role", "label", "probabilities", "gate", "gate_scores", "gate_version",
              "heatmap_name", "composite_name", "inference", "queue_wait_ms", "worker_host", "created"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("role"), ordering="trial")
    def role(self, prediction):
        return gettext("silent trial") if prediction.trial else gettext("served")

    @admin.display(description=gettext_lazy("input gate"))
    def gate(self, prediction):
        return prediction.gate_text

    @admin.display(description=gettext_lazy("inference (ms)"), ordering="inference_ms")
    def inference(self, prediction):
        return f"{prediction.inference_ms:.1f}"


class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["case", "finding", "agreed", "reviewer", "signed_at"]
    list_filter = ["finding", "agreed"]
    list_select_related = ["case", "case__patient", "reviewer"]


class DicomResultAdmin(ReadOnlyAdmin):
    list_display = ["key", "case", "node", "status", "attempts", "created", "sent_at"]
    list_filter = ["status", "node"]
    list_select_related = ["case", "case__patient", "node"]


class CxrUserAdmin(UserAdmin):
    """Django's user admin, with what only a superuser may do kept from everyone else.

    Administrators manage accounts, clinics and roles. They cannot make anyone a superuser,
    set "staff status" (it follows the Administrators role, below), grant a raw permission
    outside the roles, or touch a superuser's account at all: a superuser is made on the
    command line, and only a superuser changes one.
    """

    list_display = ["username", "email", "is_active", "is_staff", "role_names"]
    SUPERUSER_ONLY = ("is_superuser", "is_staff", "user_permissions")

    @admin.display(description=gettext_lazy("roles"))
    def role_names(self, user):
        return ", ".join(group.name for group in user.groups.all())

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        return [(name, {**options, "fields": [f for f in options["fields"] if f not in self.SUPERUSER_ONLY]})
                for name, options in fieldsets]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        if user.is_superuser:
            return
        is_administrator = user.groups.filter(name=ADMIN_GROUP).exists()
        if user.is_staff != is_administrator:  # the admin site is for the Administrators role
            user.is_staff = is_administrator
            user.save(update_fields=["is_staff"])


admin.site.register(Clinic, ClinicAdmin)
admin.site.register(Patient, PatientAdmin)
admin.site.register(Case, CaseAdmin)
admin.site.register(Prediction, PredictionAdmin)
admin.site.register(Review, ReviewAdmin)
admin.site.register(AuditEvent, AuditEventAdmin)
admin.site.register(ClinicAIState, ClinicAIStateAdmin)
admin.site.register(DicomNode, DicomNodeAdmin)
admin.site.register(DicomResult, DicomResultAdmin)
admin.site.register(Integration, IntegrationAdmin)
admin.site.register(ApiToken, ApiTokenAdmin)
admin.site.register(WebhookEvent, WebhookEventAdmin)
admin.site.register(Notification, NotificationAdmin)
admin.site.unregister(User)
admin.site.register(User, CxrUserAdmin)
admin.site.unregister(ModelVersion)  # classifier.admin's, plus what needs the clinical records
admin.site.register(ModelVersion, ModelVersionTrialAdmin)
