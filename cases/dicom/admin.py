"""The DICOM nodes in the admin (registered in cases/admin.py, with the read-only results)."""

from django.contrib import admin


class DicomNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "ae_title", "host", "port", "clinic", "may_send", "receives_results", "wants_suggestions"]
    list_filter = ["clinic", "may_send", "receives_results"]
    search_fields = ["name", "ae_title", "host"]

    def has_delete_permission(self, request, obj=None):
        return False  # cases and results point at it; untick "may send" to stop a unit instead

