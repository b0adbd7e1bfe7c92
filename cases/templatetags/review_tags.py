"""Template helpers shared by the case page, the review page and the report."""

import math

from django import template
from django.utils.translation import gettext

from ..classification.reasons import reason_text
from ..classification.caveats import VIRAL_PATTERN, caveat_for, staff_label, word_line
from ..classification.services import is_delayed
from ..words import finding_name, shown

register = template.Library()


@register.filter
def label_name(value: str) -> str:
    """'viral_pneumonia' -> 'Viral Pneumonia' in the reader's language; unknown values are shown as they are."""
    return finding_name(value)


@register.filter
def percent(probability) -> str:
    """The one rounding rule for a probability shown as text, on every page: whole percent, and never
    "100 %" or "0 %", which no model output can honestly claim (">99 %", "<1 %")."""
    value = 100 * float(probability)
    if value > 99.5:
        return gettext(">99 %")
    if value < 0.5:
        return gettext("<1 %")
    # Half up, as people round (not Python's half to even); where the sign goes is the language's.
    return gettext("%(percent)s %%") % {"percent": math.floor(value + 0.5)}


@register.filter
def probability_rows(prediction) -> list[dict]:
    """The prediction's probabilities as rows for labelled bars, most likely first."""
    rows = [
        {"label": label, "name": label_name(label), "probability": float(p), "width": f"{100 * float(p):.1f}"}
        for label, p in prediction.probabilities.items()
    ]
    return sorted(rows, key=lambda row: -row["probability"])


@register.filter
def confidence(prediction) -> float:
    """The probability of the prediction's own label (shown through `percent`)."""
    return float(prediction.probabilities.get(prediction.label, 0))


@register.filter
def staff_suggestion(prediction, case) -> dict:
    """What clinic staff see of a suggestion before review: words, no decimals (issue 27)."""
    birth_year = case.patient.birth_year
    word, label = prediction.covid_word, staff_label(prediction.label, birth_year)
    return {"label": _translated(label), "line": gettext(word_line(word, birth_year)) if word else "",
            # For an adult the label already says what the caveat would (viral-pattern pneumonia).
            "caveat": "" if label == VIRAL_PATTERN else _translated(caveat_for(prediction.label, birth_year))}


@register.filter
def staff_label_of(case) -> str:
    """A case's suggested label as clinic staff read it (case list)."""
    return _translated(staff_label(case.predicted_label, case.patient.birth_year)) if case.predicted_label else ""


@register.filter
def delayed(case) -> bool:
    """Not handed to the queue, or waiting (or classifying) past the requeue period."""
    return is_delayed(case)


@register.filter
def caveat(suggestion, case) -> str:
    """What the training data cannot support about this suggestion for this patient ("" if nothing)."""
    return _translated(caveat_for(suggestion.label, case.patient.birth_year)) if suggestion is not None else ""


@register.filter
def sentence(text: str) -> str:
    """Typed text closed with one full stop: "Rotated film." stays, "Rotated film" gets one (never "..")."""
    text = (text or "").strip().rstrip(";,:").rstrip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


@register.filter
def stored_text(text: str) -> str:
    """A text stored in English (a failed case's reason) in the reader's language (cases/words.py)."""
    return shown(text)


@register.filter
def gate_reason_text(reason: str) -> str:
    return reason_text(reason)


def _translated(text: str) -> str:
    """A text marked in English (caveats.py, classifier/labels.py) in the reader's language; "" stays "" (gettext
    of "" is the catalogue's header)."""
    return gettext(text) if text else ""
