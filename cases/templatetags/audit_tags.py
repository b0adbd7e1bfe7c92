"""Template helpers of the audit pages."""

from django import template

from ..audit.selectors import action_words as words

register = template.Library()


@register.filter
def action_words(action: str) -> str:
    return words(action)
