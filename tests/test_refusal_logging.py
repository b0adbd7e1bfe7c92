"""A refused request (403) is logged as one line, without a traceback; real errors keep theirs."""

import logging
import sys

import pytest

from django.urls import reverse

from cxrsite.log_filters import RefusalsWithoutTraceback


def test_a_403_is_logged_in_one_line_without_a_traceback(client, staff, caplog):
    client.force_login(staff)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("cases:worklist")).status_code == 403
    # The record the console handler wrote (its filter ran on this very record) is one line.
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert logging.Formatter().format(record) == f"Forbidden (Permission denied): {reverse('cases:worklist')}"


@pytest.mark.parametrize("status, traceback", [(403, False), (500, True), (None, True)])
def test_only_refusals_lose_their_traceback(status, traceback):
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Some message", (),
                                   exc_info=sys.exc_info())
    if status is not None:
        record.status_code = status
    assert RefusalsWithoutTraceback().filter(record) is True
    assert ("Traceback" in logging.Formatter().format(record)) is traceback


def test_the_console_handler_uses_the_filter(settings):
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["refusals_without_traceback"]
