"""The model versions admin as the clinical app sees it: each trial's health in the list, and the
trial's clinics picked from the clinics that exist.

`classifier.admin.ModelVersionAdmin` knows nothing of clinics or predictions (the classifier imports
nothing from cases); this subclass adds what needs them, and cases/admin.py registers it in its place.
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from classifier.admin import ModelVersionAdmin
from classifier.models import ModelVersion

from ..models import Clinic
from .trial_health import trial_health

CODES_LENGTH = ModelVersion._meta.get_field("trial_clinics").max_length


class TrialForm(forms.ModelForm):
    """`trial_clinics` stays a column of codes; the form offers the clinics there are, so a mistyped
    code (a trial that would score nothing) cannot be saved."""

    trial_clinics = forms.MultipleChoiceField(
        label=gettext_lazy("trial clinics"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The clinics whose new cases the trial also classifies; none ticked: every clinic."),
        error_messages={"invalid_choice": gettext_lazy("No clinic has the code %(value)s.")})

    class Meta:
        model = ModelVersion
        fields = ["on_trial", "trial_sample_percent", "trial_clinics"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trial_clinics"].choices = [(clinic.code, f"{clinic.name} ({clinic.code})")
                                                for clinic in Clinic.objects.order_by("name")]
        self.initial["trial_clinics"] = sorted(self.instance.trial_clinic_codes())

    def clean_trial_clinics(self) -> str:
        codes = ",".join(sorted(self.cleaned_data["trial_clinics"]))
        if len(codes) > CODES_LENGTH:
            raise forms.ValidationError(gettext("Too many clinics to list: tick none to cover every clinic."))
        return codes


class ModelVersionTrialAdmin(ModelVersionAdmin):
    form = TrialForm
    list_display = ("name", "architecture", "active", "on_trial", "trial_health", "accuracy", "covid_sensitivity",
                    "short_sha256", "created")
    readonly_fields = (*ModelVersionAdmin.readonly_fields, "trial_started")

    @admin.display(description=gettext_lazy("silent trial"))
    def trial_health(self, version):
        if not version.on_trial and version.trial_started is None:
            return "–"
        health = trial_health(version)
        if health.failures or health.unknown_codes:
            return format_html("<strong>{}</strong>", health.summary)
        return health.summary
