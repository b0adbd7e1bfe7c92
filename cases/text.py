"""Text that people type or devices send: identifiers normalised once, and no invisible tricks.

A patient number is stored as first entered (after Unicode NFKC and trimming) and matched by
its case-folded key, so `MRN-123`, `mrn-123` and a full-width `ＭＲＮ-123` are one patient.
Identifiers may not contain control or format characters (Unicode category C: bidi overrides
such as U+202E would make `ABC\u202eFED` display as "ABCDEF"); free text keeps its line breaks
but loses the bidi overrides, embeddings and isolates.
"""

import unicodedata

BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


class InvisibleCharacters(ValueError):
    """The identifier contains control or format characters."""


def normalised_identifier(text: str) -> str:
    """NFKC, trimmed; refuses control and format characters (InvisibleCharacters)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if any(unicodedata.category(character).startswith("C") for character in text):
        raise InvisibleCharacters(text)
    return text


def identifier_key(text: str) -> str:
    """What two spellings of one identifier have in common: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def without_bidi_controls(text: str) -> str:
    return text.translate(BIDI_CONTROLS)
