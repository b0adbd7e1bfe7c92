"""The API's submission, validated by the new-case form's own rules; and the integration admin's form."""

from django import forms
from django.utils.translation import gettext, gettext_lazy

from ..intake.forms import CaseForm
from ..models import Clinic, Integration, Patient


class SubmissionForm(CaseForm):
    """The web form's fields and checks (cases/intake/checks.py through CaseForm), the clinic named by its code."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), to_field_name="code", empty_label=None)
    sex = forms.ChoiceField(choices=Patient.Sex.choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get("clinic"):
            # The form leaves one clinic nobody could choose otherwise; a system that names a clinic means it,
            # and one not its own is refused, not filed under its own.
            self.fields["clinic"].disabled = False

    def clean_sex(self):
        return self.cleaned_data["sex"] or Patient.Sex.UNKNOWN


class IntegrationAdminForm(forms.ModelForm):
    webhook_url = forms.URLField(max_length=500, required=False, assume_scheme="https",
                                 help_text=gettext_lazy("Where the webhooks are posted: HTTPS in production."))
    webhook_events = forms.MultipleChoiceField(choices=Integration.Event.choices, required=False,
                                               widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Integration
        fields = ["name", "active", "clinics", "may_submit", "may_read", "receives_webhooks", "webhook_url",
                  "webhook_events"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("receives_webhooks") and not cleaned.get("webhook_url"):
            self.add_error("webhook_url", gettext("An integration that receives webhooks needs the address to post "
                                                  "them to."))
        return cleaned
