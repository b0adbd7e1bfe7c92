"""Why a case has no AI suggestion and needs a human read: the input gate's reasons, or the model's
uncertain band (classifier/operating_point.py). One register, read by every page that says why.

`Case.gate_reason` holds one of these codes (empty: there is a suggestion); `Prediction` keeps the
gate's verdict and the band apart (`gate_passed`, `uncertain`).
"""

from django.utils.translation import gettext, gettext_noop

from classifier.gate import REASONS as GATE_REASONS

UNCERTAIN = "uncertain"
# In English, as the gate's reasons are: pages look them up in the reader's language (`reason_text`).
UNCERTAIN_TEXT = gettext_noop("No AI suggestion: uncertain. The model's two likeliest answers are too close to "
                              "call on films like this one (its uncertain band, fitted on validation films).")

REASONS = {**GATE_REASONS, UNCERTAIN: UNCERTAIN_TEXT}


def reason_text(code: str, unknown: str = "") -> str:
    """Why there is no suggestion, in the reader's language ("" or `unknown` for a code not in REASONS)."""
    return gettext(REASONS[code]) if code in REASONS else unknown


def no_suggestion_reason(*, gate_passed: bool, gate_reason: str | None, uncertain: bool) -> str:
    """The code to store on the case: the gate's refusal first (the model's answer on an image it
    refused means nothing), then the band; "" when the prediction is a suggestion."""
    if not gate_passed:
        return gate_reason or ""
    return UNCERTAIN if uncertain else ""
