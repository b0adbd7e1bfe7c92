"""Texts made in English and shown to people in their own language: the classifier's labels, findings
and refusals (the classifier imports no Django; it marks them with classifier.texts.gettext_noop), and
a failed case's reason (`Case.failure_reason`).

A failure reason is stored in English and stays so: the audit trail and the API carry the same text,
old rows were written before translation, and the reader's language is known only when a page is shown.
Each text that can be stored is a template marked once where it is made; `shown` recognises a stored
text by its template and puts the stored values into the translation, each value looked up the same way
(a refusal inside a failure reason). A text that no template matches is shown as it is.
"""

import re
from functools import cache

from django.utils import translation
from django.utils.translation import gettext

from classifier import gate, imaging, labels  # noqa: F401 - imported for the texts they mark
from classifier.texts import MARKED

from .classification.faults import STORED_REASONS
from .models import Case

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGs]")


def finding_name(value: str) -> str:
    """A label or finding code in the reader's language ('viral_pneumonia' -> 'Viral Pneumonia'); an
    unknown value is shown as it is."""
    name = labels.display_name(value)
    return gettext(name) if name else ""  # gettext("") is the catalogue's header, not ""


def shown(stored: str) -> str:
    """An English text kept or raised by the code (a failure reason, an image refusal) in the reader's language."""
    if not stored:
        return ""
    for template, pattern in _templates():
        found = pattern.fullmatch(stored)
        if found:
            values = {name: shown(value) for name, value in found.groupdict().items()}
            # The values are text now: a translator's %(megapixels).1f takes them as they are.
            return PLACEHOLDER.sub(r"%(\1)s", gettext(template)) % values if values else gettext(template)
    for text in _lowered():  # a cause's name in the middle of a sentence, lower-cased when it was stored
        if stored == text.lower():
            translated = gettext(text)
            return stored if translated == text else translated[:1].lower() + translated[1:]
    return stored


@cache
def _templates() -> list[tuple[str, re.Pattern]]:
    known = [*MARKED, *STORED_REASONS]
    return [(text, re.compile(_pattern(text), re.DOTALL)) for text in dict.fromkeys(known)]


def _pattern(template: str) -> str:
    parts, end = [], 0
    for placeholder in PLACEHOLDER.finditer(template):
        parts += [_literal(template[end:placeholder.start()]), f"(?P<{placeholder.group(1)}>.+?)"]
        end = placeholder.end()
    return "".join([*parts, _literal(template[end:])])


def _literal(text: str) -> str:
    return re.escape(text.replace("%%", "%"))  # "%%" is how a template writes the "%" it stored


@cache
def _lowered() -> tuple[str, ...]:
    with translation.override(None):  # the labels' English, whatever language is active now
        return tuple(str(label) for label in Case.FailureCause.labels)
