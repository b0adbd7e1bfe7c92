"""The case page's DICOM panel reads its results here, so the intake view needs no change."""

from django import template

from ..dicom.selectors import results_of

register = template.Library()


@register.simple_tag
def dicom_results_of(case):
    return list(results_of(case))
