"""Text that people type or devices send: identifiers normalised once, and no invisible tricks.

A patient number is stored as first entered (after Unicode NFKC and trimming) and matched by
its case-folded key, so `MRN-123`, `mrn-123` and a full-width `ＭＲＮ-123` are one patient.
Identifiers may not contain control or format characters (Unicode category C: bidi overrides
such as U+202E would make `ABC\u202eFED` display as "ABCDEF"); free text keeps its line breaks
but loses the bidi overrides, embeddings and isolates.
"""

import unicodedata

BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")


class InvisibleCharacters(ValueError):
    """The identifier contains control or format characters; str(error) names the first for people
    ("a text-direction mark (U+202E)"), so a refusal can say what was wrong."""


def normalised_identifier(text: str) -> str:
    """NFKC, trimmed; refuses control and format characters (InvisibleCharacters)."""
    text = unicodedata.normalize("NFKC", text).strip()
    hidden = next((character for character in text if unicodedata.category(character).startswith("C")), None)
    if hidden is not None:
        raise InvisibleCharacters(described(hidden))
    return text


def described(character: str) -> str:
    if character == "\x00":
        kind = "a NUL character"
    elif ord(character) in BIDI_CONTROLS:
        kind = "a text-direction mark"
    elif character in ZERO_WIDTH:
        kind = "a zero-width character"
    elif unicodedata.category(character) == "Cc":
        kind = "a control character"
    else:
        kind = "an invisible character"
    return f"{kind} (U+{ord(character):04X})"


def identifier_key(text: str) -> str:
    """What two spellings of one identifier have in common: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def without_bidi_controls(text: str) -> str:
    return text.translate(BIDI_CONTROLS)
