"""Forms of the review pages: worklist filters, signing a review, amending one."""

from django import forms
from django.utils.translation import gettext_lazy

from classifier.labels import DISPLAY_NAMES, LABELS

from ..dates import iso_date_field
from ..models import Case, Clinic, Review
from ..text import without_bidi_controls
from .selectors import HUMAN_READ, WorklistFilters

ANY_STATUS = "all"
LABEL_CHOICES = [("", gettext_lazy("Any suggestion")),
                 *[(label, gettext_lazy(DISPLAY_NAMES[label])) for label in LABELS],  # marked in classifier/labels.py
                 (HUMAN_READ, gettext_lazy("Needs a human read"))]


class WorklistFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"),
                               choices=[*Case.Status.choices, (ANY_STATUS, gettext_lazy("Any status"))], required=False)
    clinic = forms.ModelChoiceField(label=gettext_lazy("Clinic"), queryset=Clinic.objects.none(), required=False,
                                    empty_label=gettext_lazy("All my clinics"))
    label = forms.ChoiceField(label=gettext_lazy("AI suggestion"), choices=LABEL_CHOICES, required=False)
    submitted_from = iso_date_field(gettext_lazy("Submitted from"))
    submitted_to = iso_date_field(gettext_lazy("Submitted to"))

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select form-select-sm" if is_select else "form-control form-control-sm"

    def filters(self) -> WorklistFilters:
        """The filters asked for; a missing or invalid value falls back to its default."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        status = data.get("status") or Case.Status.PREDICTED
        clinic = data.get("clinic")
        return WorklistFilters(
            status="" if status == ANY_STATUS else status,
            clinic=clinic.pk if clinic else None,
            label=data.get("label", ""),
            submitted_from=data.get("submitted_from"),
            submitted_to=data.get("submitted_to"),
        )


class BidiFreeNoteMixin:
    """Notes and reasons keep their line breaks but lose bidi overrides (cases.text)."""

    def clean_note(self):
        return without_bidi_controls(self.cleaned_data["note"])

    def clean_reason(self):
        return without_bidi_controls(self.cleaned_data.get("reason", ""))


class ReviewForm(BidiFreeNoteMixin, forms.Form):
    """Nothing is chosen for the radiologist: a missing finding is refused, never read as agreement."""

    finding = forms.ChoiceField(label=gettext_lazy("Final finding"), choices=Review.Finding.choices,
                                widget=forms.RadioSelect,
                                error_messages={"required": gettext_lazy("Choose a final finding before signing.")})
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Required when you override the AI suggestion."))
    prediction = forms.IntegerField(widget=forms.HiddenInput)


class FirstImpressionForm(forms.Form):
    finding = forms.ChoiceField(label=gettext_lazy("Your first impression"), choices=Review.Finding.choices,
                                widget=forms.RadioSelect,
                                error_messages={"required": gettext_lazy("Choose your first impression.")})


class AmendForm(BidiFreeNoteMixin, forms.Form):
    finding = forms.ChoiceField(label=gettext_lazy("Amended finding"), choices=Review.Finding.choices,
                                widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reason = forms.CharField(label=gettext_lazy("Reason for the amendment"), widget=forms.Textarea(attrs={"rows": 2}))
    review = forms.IntegerField(widget=forms.HiddenInput)
