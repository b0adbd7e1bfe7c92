"""The intake form. It checks the upload by content and cross-checks a DICOM's own header.

DICOM policy: a blank patient number or view is filled in from the DICOM header
(PatientID, ViewPosition); one typed in that disagrees with the header is a form error, so a
file cannot silently be filed under the wrong patient.
"""

from datetime import date

from django import forms
from django.conf import settings

from classifier.imaging import DecodedImage, ImageRejected, check_file_size, decode_image

from ..models import Case, Clinic, Patient
from ..text import InvisibleCharacters, identifier_key, normalised_identifier, without_bidi_controls
from .services import CaseDetails

INVISIBLE = ("The {what} contains invisible or control characters (for example text-direction marks), "
             "which would make it display differently from what it is. Type it again.")

# DICOM ViewPosition (PS3.3 C.8.11.5) to our views; lateral has two codes.
DICOM_VIEWS = {"PA": Case.View.PA, "AP": Case.View.AP, "LL": Case.View.LATERAL, "RL": Case.View.LATERAL,
               "LATERAL": Case.View.LATERAL, "LAT": Case.View.LATERAL}


# Shared with the DICOM listener (cases/dicom/services.py), so both intake paths check alike.
def decode_upload(data: bytes) -> DecodedImage:
    """The content checks and limits of every intake path; raises ImageRejected."""
    return decode_image(data, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS,
                        min_side=settings.UPLOAD_MIN_SIDE)


def normalise_mrn(value: str) -> str:
    """A patient number as the form stores it (cases.text); "" when it has invisible characters."""
    try:
        return normalised_identifier(value)
    except InvisibleCharacters:
        return ""


def view_from_dicom(header: dict) -> str:
    return DICOM_VIEWS.get(header.get("view_position", ""), "")


class CaseForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)
    mrn = forms.CharField(label="Patient number (MRN)", max_length=64, required=False,
                          help_text="Leave blank to take it from a DICOM file.")
    age = forms.IntegerField(label="Age (years)", min_value=0, max_value=130, required=False)
    birth_year = forms.IntegerField(min_value=1880, max_value=date.today().year, required=False,
                                    help_text="Age or birth year; either is enough.")
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    view = forms.ChoiceField(choices=[("", "From the DICOM file"), *Case.View.choices], required=False)
    symptoms = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    onset_date = forms.DateField(label="Symptom onset", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    spo2 = forms.IntegerField(label="SpO2 (%)", min_value=50, max_value=100, required=False,
                              help_text="If known.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    urgent = forms.BooleanField(required=False, label="Clinically urgent")
    # No `accept` filter: DICOM exports often have no file extension at all.
    image = forms.FileField(label="Chest X-ray (PNG, JPEG or DICOM)")

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if len(clinics) == 1:  # nothing to choose; disabled: whatever is posted, their clinic is used
            self.fields["clinic"].initial = clinics[0]
            self.fields["clinic"].disabled = True
            self.fields["clinic"].widget = forms.HiddenInput()
        self.decoded = None
        self.image_bytes = b""

    def clean_image(self):
        upload = self.cleaned_data["image"]
        try:
            # The size Django already knows: a huge file is refused without reading it into memory.
            check_file_size(upload.size, max_bytes=settings.UPLOAD_MAX_BYTES)
            data = upload.read()
            self.decoded = decode_upload(data)
        except ImageRejected as error:
            raise forms.ValidationError(str(error), code="image_rejected") from None
        self.image_bytes = data
        return upload

    def clean_onset_date(self):
        onset = self.cleaned_data["onset_date"]
        if onset is not None and onset > date.today():
            raise forms.ValidationError("The symptom onset cannot be in the future.")
        return onset

    def clean_symptoms(self):
        return without_bidi_controls(self.cleaned_data["symptoms"])

    def clean_notes(self):
        return without_bidi_controls(self.cleaned_data["notes"])

    def clean(self):
        cleaned = super().clean()
        header = self.decoded.dicom if self.decoded is not None and self.decoded.dicom else {}
        typed = self._identifier("mrn", cleaned.get("mrn", ""), "patient number")
        from_dicom = self._identifier("mrn", header.get("patient_id", ""), "patient number in the DICOM file")
        cleaned["mrn"] = self._reconcile("mrn", typed, from_dicom, "patient number")
        cleaned["view"] = self._reconcile("view", cleaned.get("view", ""), view_from_dicom(header), "view")
        cleaned["birth_year"] = self._birth_year(cleaned.get("age"), cleaned.get("birth_year"))
        return cleaned

    def details(self) -> CaseDetails:
        data = self.cleaned_data
        return CaseDetails(mrn=data["mrn"], birth_year=data["birth_year"], sex=data["sex"], view=data["view"],
                           symptoms=data["symptoms"], onset_date=data["onset_date"], spo2=data["spo2"],
                           notes=data["notes"], urgent=data["urgent"])

    def _identifier(self, field: str, text: str, what: str) -> str:
        try:
            return normalised_identifier(text)
        except InvisibleCharacters:
            self.add_error(field, INVISIBLE.format(what=what))
            return ""

    def _reconcile(self, field: str, entered: str, from_dicom: str, what: str) -> str:
        if entered and from_dicom and identifier_key(entered) != identifier_key(from_dicom):
            self.add_error(field, f"The DICOM file says the {what} is “{from_dicom}”, not “{entered}”. "
                                  "Check the form and the file.")
        elif not entered and not from_dicom and "image" not in self.errors and field not in self.errors:
            self.add_error(field, f"Enter the {what} (the file does not contain one).")
        return entered or from_dicom

    def _birth_year(self, age: int | None, birth_year: int | None) -> int | None:
        if age is None:
            return birth_year
        from_age = date.today().year - age
        if birth_year is not None and abs(birth_year - from_age) > 1:
            self.add_error("birth_year", f"An age of {age} does not match the birth year {birth_year}.")
        return birth_year if birth_year is not None else from_age
