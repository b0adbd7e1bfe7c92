"""Clinics, users and roles are managed here; clinical records are shown, not rewritten.

What a case recorded (the image and its hash, the workflow status, predictions, reviews) is
read-only for everyone, superusers included, and cases are never deleted: correcting them
goes through the workflow services, which audit every change. Each feature package keeps
its own admin classes (reviews.admin, audit.admin); every registration is here, explicitly.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from .access import ADMIN_GROUP
from .audit.admin import AuditEventAdmin
from .dicom.admin import DicomNodeAdmin
from .models import AuditEvent, Case, Clinic, DicomNode, DicomResult, Patient, Prediction, Review
from .reviews.admin import CaseReviewAdminMixin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by whoever has the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "member_count", "created"]
    search_fields = ["name", "code"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"code": ["name"]}

    @admin.display(description="members")
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


class CaseAdmin(CaseReviewAdminMixin, admin.ModelAdmin):
    list_display = ["public_id", "patient", "clinic", "status", "urgent", "created",
                    *CaseReviewAdminMixin.review_columns]
    # A "created" filter instead of date_hierarchy: listing the dates scanned every case
    # (most of the list's 740 ms at 100,000 cases).
    list_filter = ["status", *CaseReviewAdminMixin.review_filters, "clinic", "urgent", "view", "created"]
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


class PredictionAdmin(ReadOnlyAdmin):
    list_display = ["case", "label", "model_version", "inference_ms", "created"]
    list_filter = ["label", "model_version"]
    list_select_related = ["case", "case__patient", "model_version"]


class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["case", "finding", "agreed", "reviewer", "signed_at"]
    list_filter = ["finding", "agreed"]
    list_select_related = ["case", "case__patient", "reviewer"]


class DicomResultAdmin(ReadOnlyAdmin):
    list_display = ["key", "case", "node", "status", "attempts", "created", "sent_at"]
    list_filter = ["status", "node"]
    list_select_related = ["case", "case__patient", "node"]


class CxrUserAdmin(UserAdmin):
    """Django's user admin; members of the Administrators role also get into this admin site."""

    list_display = ["username", "email", "is_active", "is_staff", "role_names"]

    @admin.display(description="roles")
    def role_names(self, user):
        return ", ".join(group.name for group in user.groups.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not user.is_staff and user.groups.filter(name=ADMIN_GROUP).exists():
            user.is_staff = True
            user.save(update_fields=["is_staff"])


admin.site.register(Clinic, ClinicAdmin)
admin.site.register(Patient, PatientAdmin)
admin.site.register(Case, CaseAdmin)
admin.site.register(Prediction, PredictionAdmin)
admin.site.register(Review, ReviewAdmin)
admin.site.register(AuditEvent, AuditEventAdmin)
admin.site.register(DicomNode, DicomNodeAdmin)
admin.site.register(DicomResult, DicomResultAdmin)
admin.site.unregister(User)
admin.site.register(User, CxrUserAdmin)
