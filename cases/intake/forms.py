"""The new-case form: its fields, and the intake rules (checks.py) turned into errors on the fields
they concern. A valid form gives `submit_case` its CheckedUpload (`cleaned_data["image"]`) and
CaseDetails (`details()`).
"""

from datetime import date

from django import forms
from django.utils.translation import gettext, gettext_lazy

from classifier.imaging import ImageRejected

from ..dates import ISO_HINT, iso_date_field
from ..models import Case, Clinic, Patient
from ..text import without_bidi_controls
from ..words import shown
from .checks import CaseDetails, IntakeRefused, birth_year_of, check_size, check_upload, patient_number, reconciled

# What a person is asked for when neither the form nor the file gives it: one sentence for each.
ENTER = {"patient number": gettext_lazy("Enter the patient number (the file does not contain one)."),
         "view": gettext_lazy("Enter the view (the file does not contain one).")}


class CaseForm(forms.Form):
    clinic = forms.ModelChoiceField(label=gettext_lazy("Clinic"), queryset=Clinic.objects.none(), empty_label=None)
    mrn = forms.CharField(label=gettext_lazy("Patient number (MRN)"), max_length=64, required=False,
                          help_text=gettext_lazy("Leave blank to take it from a DICOM file."))
    age = forms.IntegerField(label=gettext_lazy("Age (years)"), min_value=0, max_value=130, required=False)
    birth_year = forms.IntegerField(label=gettext_lazy("Birth year"), min_value=1880, max_value=date.today().year,
                                    required=False, help_text=gettext_lazy("Age or birth year; either is enough."))
    sex = forms.ChoiceField(label=gettext_lazy("Sex"), choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    view = forms.ChoiceField(label=gettext_lazy("View"),
                             choices=[("", gettext_lazy("From the DICOM file")), *Case.View.choices], required=False)
    symptoms = forms.CharField(label=gettext_lazy("Symptoms"), widget=forms.Textarea(attrs={"rows": 2}),
                               required=False)
    onset_date = iso_date_field(gettext_lazy("Symptom onset"), help_text=ISO_HINT)
    spo2 = forms.IntegerField(label=gettext_lazy("SpO2 (%)"), min_value=50, max_value=100, required=False,
                              help_text=gettext_lazy("If known."))
    notes = forms.CharField(label=gettext_lazy("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    urgent = forms.BooleanField(required=False, label=gettext_lazy("Clinically urgent"))
    # No `accept` filter: DICOM exports often have no file extension at all.
    image = forms.FileField(label=gettext_lazy("Chest X-ray (PNG, JPEG or DICOM)"))

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if len(clinics) == 1:  # nothing to choose; disabled: whatever is posted, their clinic is used
            self.fields["clinic"].initial = clinics[0]
            self.fields["clinic"].disabled = True
            self.fields["clinic"].widget = forms.HiddenInput()

    def clean_image(self):
        """The upload as a CheckedUpload (checks.py)."""
        upload = self.cleaned_data["image"]
        try:
            check_size(upload.size)  # the size Django already knows, before reading the file
            return check_upload(upload.read(), filename=upload.name)
        except ImageRejected as error:
            raise forms.ValidationError(shown(str(error)), code="image_rejected") from None

    def clean_onset_date(self):
        onset = self.cleaned_data["onset_date"]
        if onset is not None and onset > date.today():
            raise forms.ValidationError(gettext("The symptom onset cannot be in the future."))
        return onset

    def clean_symptoms(self):
        return without_bidi_controls(self.cleaned_data["symptoms"])

    def clean_notes(self):
        return without_bidi_controls(self.cleaned_data["notes"])

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("image")
        header = upload.header if upload is not None else None
        typed = self._checked("mrn", "", patient_number, cleaned.get("mrn", ""))
        from_dicom = self._checked("mrn", "", patient_number, header.patient_id if header else "",
                                   what="patient number in the DICOM file")
        cleaned["mrn"] = self._filled("mrn", typed, from_dicom, "patient number")
        cleaned["view"] = self._filled("view", cleaned.get("view", ""), header.view if header else "", "view")
        cleaned["birth_year"] = self._checked("birth_year", cleaned.get("birth_year"), birth_year_of,
                                              cleaned.get("age"), cleaned.get("birth_year"))
        return cleaned

    def details(self) -> CaseDetails:
        data = self.cleaned_data
        return CaseDetails(mrn=data["mrn"], birth_year=data["birth_year"], sex=data["sex"], view=data["view"],
                           symptoms=data["symptoms"], onset_date=data["onset_date"], spo2=data["spo2"],
                           notes=data["notes"], urgent=data["urgent"])

    def _checked(self, field: str, fallback, rule, *args, **kwargs):
        """`rule(*args, **kwargs)`, or `fallback` with the rule's refusal as an error on `field`."""
        try:
            return rule(*args, **kwargs)
        except IntakeRefused as refusal:
            self.add_error(field, str(refusal))
            return fallback

    def _filled(self, field: str, entered: str, from_dicom: str, what: str) -> str:
        """Typed, else from the DICOM header (`reconciled`); a person can be asked for a value neither gives."""
        value = self._checked(field, entered or from_dicom, reconciled, entered, from_dicom, what=what)
        if not value and "image" not in self.errors and field not in self.errors:
            self.add_error(field, str(ENTER[what]))
        return value


class ReplaceImageForm(forms.Form):
    """A better image for a case whose film the input gate refused; checked as the new-case form checks it."""

    image = forms.FileField(label=gettext_lazy("A better image (PNG, JPEG or DICOM)"))
    clean_image = CaseForm.clean_image
