"""Template helpers shared by the case page, the review page and the report."""

from django import template

from classifier.labels import display_name

from ..classification.reasons import REASONS
from ..classification.caveats import caveat_for
from ..classification.services import is_delayed

register = template.Library()


@register.filter
def label_name(value: str) -> str:
    """'viral_pneumonia' -> 'Viral Pneumonia'; unknown values are shown as they are."""
    return display_name(value)


@register.filter
def probability_rows(prediction) -> list[dict]:
    """The prediction's probabilities as rows for labelled bars, most likely first."""
    rows = [
        {"label": label, "name": label_name(label), "percent": round(100 * float(p), 1)}
        for label, p in prediction.probabilities.items()
    ]
    return sorted(rows, key=lambda row: -row["percent"])


@register.filter
def confidence(prediction) -> float:
    return round(100 * float(prediction.probabilities.get(prediction.label, 0)), 1)


@register.filter
def delayed(case) -> bool:
    """Not handed to the queue, or waiting (or classifying) past the requeue period."""
    return is_delayed(case)


@register.filter
def caveat(suggestion, case) -> str:
    """What the training data cannot support about this suggestion for this patient ("" if nothing)."""
    return caveat_for(suggestion.label, case.patient.birth_year) if suggestion is not None else ""


@register.filter
def gate_reason_text(reason: str) -> str:
    return REASONS.get(reason, "")
