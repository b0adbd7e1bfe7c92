"""Date fields typed as every date is shown (2026-03-01, ISO 8601).

A type="date" input shows the browser's own locale (mm/dd/yyyy in most installs) on pages where every
date reads yyyy-mm-dd: staff typed 03/01 meaning the 3rd of January. A text input in the one format
the pages use avoids the two conventions on one screen; Django reads it as it is.
"""

from django import forms
from django.utils.translation import gettext_lazy

ISO_DATE = "%Y-%m-%d"
ISO_HINT = gettext_lazy("As YYYY-MM-DD, for example 2026-03-01.")


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs=None):
        super().__init__(attrs={"placeholder": gettext_lazy("YYYY-MM-DD"), "pattern": r"\d{4}-\d{2}-\d{2}",
                                "maxlength": "10", **(attrs or {})}, format=ISO_DATE)


def iso_date_field(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(label=label, required=False, widget=IsoDateInput(), **kwargs)
