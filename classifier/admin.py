"""Model versions: administrators see every registered model, try one silently, switch the active one.

Versions are registered with `manage.py register_model` (the file must be on the worker
machines); here they are read-only except for the silent-trial fields and the actions.
Activating goes through a confirmation page that shows the trial's comparison with the
served version; that page belongs to the clinical app (it needs case data), so this library
only redirects to it by URL name. Re-scoring past cases is asked of the app by a signal.
"""

from pathlib import PurePath

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join

from classifier.labels import display_name
from classifier.models import ModelVersion
from classifier.signals import rescoring_requested

CONFIRM_ACTIVATION_URL = "audit:confirm_activation"
OVERALL = [("cases", "n"), ("accuracy", "accuracy"), ("macro F1", "macro_f1"), ("macro AUC", "macro_auc"),
           ("calibration error (ECE)", "ece")]
PER_CLASS = [("cases", "n"), ("sensitivity", "sensitivity"), ("specificity", "specificity"),
             ("precision", "precision"), ("AUC", "auc")]


def _figure(value) -> str:
    if isinstance(value, bool) or value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "active", "on_trial", "accuracy", "covid_sensitivity", "short_sha256",
                    "created")
    list_filter = ("active", "on_trial", "architecture")
    # The metrics as a table, the file by its name: the raw JSON ran to kilobytes and named a developer's path.
    readonly_fields = ("name", "architecture", "model_file", "sha256", "metrics_table", "training_data", "created",
                       "active")
    actions = ["activate", "start_trial", "end_trial", "rescore_past_cases"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # predictions refer to the version that made them

    @admin.display(description="SHA-256")
    def short_sha256(self, version):
        return version.sha256[:12]

    @admin.display(description="model file")
    def model_file(self, version):
        return PurePath(version.file).name

    @admin.display(description="metrics (test split)")
    def metrics_table(self, version):
        metrics = version.metrics or {}
        overall = [(name, _figure(metrics.get(key))) for name, key in OVERALL if key in metrics]
        per_class = metrics.get("per_class", {})
        if not overall and not per_class:
            return "none recorded"
        rows = format_html_join("", "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", overall)
        classes = format_html_join("", "<tr><th scope=\"row\">{}</th>" + "<td>{}</td>" * len(PER_CLASS) + "</tr>", (
            (display_name(label), *(_figure(figures.get(key)) for _, key in PER_CLASS))
            for label, figures in per_class.items()))
        heads = format_html_join("", "<th scope=\"col\">{}</th>", ((name,) for name, _ in PER_CLASS))
        return format_html(
            '<table class="metrics-table"><caption>Overall</caption><tbody>{}</tbody></table>'
            '<table class="metrics-table"><caption>Per class</caption><thead><tr><th scope="col">Class</th>{}</tr>'
            "</thead><tbody>{}</tbody></table>", rows, heads, classes)

    @admin.display(description="test accuracy")
    def accuracy(self, version):
        value = version.metrics.get("accuracy")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="COVID-19 sensitivity")
    def covid_sensitivity(self, version):
        value = version.metrics.get("per_class", {}).get("covid", {}).get("sensitivity")
        return "-" if value is None else f"{value:.3f}"

    @admin.action(description="Make the selected version the active model (shows its trial comparison first)",
                  permissions=["change"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return None
        return redirect(CONFIRM_ACTIVATION_URL, version_id=queryset.get().pk)

    @admin.action(description="Put the selected versions on silent trial", permissions=["change"])
    def start_trial(self, request, queryset):
        for version in queryset.filter(active=True):
            self.message_user(request, f"{version.name} was not put on trial: it is the active version, "
                                       "already served to everyone.", messages.WARNING)
        self.set_trial(request, queryset.filter(active=False), on_trial=True)

    @admin.action(description="End the silent trial of the selected versions", permissions=["change"])
    def end_trial(self, request, queryset):
        self.set_trial(request, queryset, on_trial=False)

    def set_trial(self, request, queryset, *, on_trial: bool):
        # One save per version, so each change is audited (trial_changed) like an edit in the form.
        for version in queryset:
            version.on_trial = on_trial
            version.save(update_fields=["on_trial"])
        if queryset:
            state = "on trial" if on_trial else "off trial"
            names = ", ".join(version.name for version in queryset)
            self.message_user(request, f"{len(queryset)} version(s) {state}: {names}.", messages.SUCCESS)

    @admin.action(description="Score the reviewed past cases with the selected trial versions (in the background)",
                  permissions=["change"])
    def rescore_past_cases(self, request, queryset):
        for version in queryset:
            if not version.on_trial:
                self.message_user(request, f"{version.name} is not on trial.", messages.ERROR)
                continue
            try:
                answers = rescoring_requested.send(sender=ModelVersion, version=version, user=request.user)
            except ConnectionError:
                self.message_user(request, "The task queue is unreachable; try again later.", messages.ERROR)
                return
            waiting = sum(answer for _, answer in answers)
            self.message_user(request, f"Queued {waiting} reviewed case(s) for scoring with {version.name}.",
                              messages.SUCCESS)
