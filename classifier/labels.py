"""The one vocabulary: what the network predicts and what a radiologist may find.

The network's three classes, in the order of its output; radiologists have two more answers that no
model predicts ("other / indeterminate", and "image not usable" for a film that must be sent again). Every page, form, metric and the model
sidecars use these values.
"""

from classifier.texts import gettext_noop

COVID = "covid"
NORMAL = "normal"
VIRAL_PNEUMONIA = "viral_pneumonia"
OTHER = "other"
UNUSABLE = "unusable"  # the film cannot be read: the clinic is asked to send it again

LABELS = (COVID, NORMAL, VIRAL_PNEUMONIA)  # the model's outputs, in its output order
FINDINGS = (*LABELS, OTHER, UNUSABLE)  # what a radiologist can sign

# In English, as DICOM, FHIR and the API carry them; pages show them translated (cases/words.py).
DISPLAY_NAMES = {COVID: gettext_noop("COVID-19"), NORMAL: gettext_noop("Normal"),
                 VIRAL_PNEUMONIA: gettext_noop("Viral Pneumonia")}
FINDING_NAMES = {**DISPLAY_NAMES, OTHER: gettext_noop("Other / indeterminate"),
                 UNUSABLE: gettext_noop("Image not usable: ask the clinic to resend")}


def display_name(value: str) -> str:
    """'viral_pneumonia' -> 'Viral Pneumonia'; an unknown value is shown as it is."""
    return FINDING_NAMES.get(value, value or "")
