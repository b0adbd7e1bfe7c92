"""Each clinic's AI state per model version, read-only: it changes only on the validation page, audited."""

from django.contrib import admin


class ClinicAIStateAdmin(admin.ModelAdmin):
    list_display = ["clinic", "model_version", "state", "covid_threshold", "changed", "changed_by", "reason"]
    list_filter = ["state", "model_version"]
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
