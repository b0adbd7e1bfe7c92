"""Completing a received case: the unit sends the film; staff add what only the clinic knows."""

from django import forms

from ..intake.forms import CaseForm

CLINICAL_FIELDS = ("symptoms", "onset_date", "spo2", "notes", "urgent")

# The intake form's own fields (labels, limits, widgets), so both forms cannot drift apart.
ClinicalDetailsForm = type("ClinicalDetailsForm", (forms.Form,),
                           {name: CaseForm.base_fields[name] for name in CLINICAL_FIELDS})
