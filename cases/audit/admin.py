"""The audit trail in the Django admin: readable by auditors, changeable by nobody.

Superusers pass every permission check, so the has_*_permission methods answer False
outright rather than asking for permissions. Registered in cases/admin.py.
"""

from django.contrib import admin

from ..models import AuditEvent


class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["time", "action", "actor_label", "case", "clinic", "ip_address"]
    list_filter = ["action", "time"]
    search_fields = ["actor_label", "case__public_id"]
    list_select_related = ["case", "case__patient", "clinic"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    date_hierarchy = "time"
    show_full_result_count = False  # counting a large trail twice per page is wasted work
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
