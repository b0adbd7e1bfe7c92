"""Model versions: administrators see every registered model and switch the active one.

Versions are registered with `manage.py register_model` (the file must be on the worker
machines); here they are read-only except for the "activate" action, which is audited
through the `model_activated` signal.
"""

from django.contrib import admin, messages

from classifier.models import ModelVersion
from classifier.registry import activate_version


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "active", "accuracy", "covid_sensitivity", "short_sha256", "created")
    list_filter = ("active", "architecture")
    readonly_fields = ("name", "architecture", "file", "sha256", "metrics", "training_data", "created", "active")
    actions = ["activate"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # predictions refer to the version that made them

    @admin.display(description="SHA-256")
    def short_sha256(self, version):
        return version.sha256[:12]

    @admin.display(description="test accuracy")
    def accuracy(self, version):
        value = version.metrics.get("accuracy")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="COVID-19 sensitivity")
    def covid_sensitivity(self, version):
        value = version.metrics.get("per_class", {}).get("covid", {}).get("sensitivity")
        return "-" if value is None else f"{value:.3f}"

    @admin.action(description="Make the selected version the active model", permissions=["change"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = activate_version(queryset.get(), user=request.user)
        self.message_user(request, f"{version.name} is now the active model; workers use it from their next case.",
                          messages.SUCCESS)
