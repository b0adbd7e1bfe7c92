"""The filter form shared by the audit event list and its CSV export."""

from datetime import date, timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy

from ..dates import iso_date_field
from ..models import AuditEvent, Clinic
from .selectors import action_words


DATE_RANGE = [MinValueValidator(date.min + timedelta(days=2)), MaxValueValidator(date.max - timedelta(days=2))]


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label=gettext_lazy("User"))
    clinic = forms.ModelChoiceField(Clinic.objects.all(), required=False, label=gettext_lazy("Clinic"),
                                    empty_label=gettext_lazy("All clinics"))
    case = forms.UUIDField(required=False, label=gettext_lazy("Case id"))
    action = forms.ChoiceField(label=gettext_lazy("Action"), choices=[("", gettext_lazy("All actions"))]
                               + [(a.value, lazy(action_words, str)(a.value)) for a in AuditEvent.Action], required=False)
    # A day inside either end of the calendar: the filter adds a day to `until`, and a time zone
    # can move a date at the edge past what a datetime holds (a far-future date was a 500).
    since = iso_date_field(gettext_lazy("From"), validators=DATE_RANGE)
    until = iso_date_field(gettext_lazy("To"), validators=DATE_RANGE)

    def __init__(self, *args, clinics=None, **kwargs):
        super().__init__(*args, **kwargs)
        if clinics is not None:  # the clinics the viewer may see: another clinic is "not a valid choice"
            self.fields["clinic"].queryset = clinics
        for bound in self.visible_fields():
            is_select = isinstance(bound.field, forms.ChoiceField)
            bound.field.widget.attrs["class"] = "form-select form-select-sm" if is_select else "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(gettext("The start date is after the end date."))
        return data

    def filters(self) -> dict:
        """The cleaned filters, as keyword arguments for `events_matching`."""
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
