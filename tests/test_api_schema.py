"""The API's OpenAPI schema: valid with no warning (as CI checks it), and every operation run in-process
by schemathesis with generated requests, finding no server error and no answer the schema does not describe."""

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from cases.reviews.services import sign_review
from cxrsite.wsgi import application
from tests.factories import api_token, integration, predicted_case


@pytest.mark.django_db
def test_the_schema_validates_with_no_warning(tmp_path):
    # `spectacular --validate --fail-on-warn` exits non-zero on a warning or an invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/v1/cases/", "/api/v1/cases/{public_id}/", "/api/v1/cases/{public_id}/fhir/",
                 "/api/v1/cases/{public_id}/images/{kind}/", "/api/v1/me/"):
        assert f"  {path}:" in schema


@pytest.fixture
def in_process(db):
    """The site called in-process (WSGI) inside the test's transaction: as Django's test client does,
    requests must not close the connection that holds it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Driven by hand rather than by schemathesis' pytest plugin, whose lazy schemas do not run under pytest 9.
@pytest.mark.slow
def test_every_operation_answers_without_a_server_error_and_as_its_schema_says(in_process, clinic, staff,
                                                                                radiologist, settings):
    settings.CXR_API_RATE_LIMIT = 10**6  # a 429 is a documented answer, and would hide every other one
    emr = integration("Schema EMR", clinic, may_submit=True)
    case, _ = predicted_case(clinic, staff, "covid", mrn="SCHEMA-1")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    auth = {"Authorization": f"Bearer {api_token(emr)}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", in_process)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6

    failures = {}
    for operation in operations:
        # A submission's film is refused for what no schema can say (its pixels, its size): a 400 for
        # a schema-valid body is the intake checks at work, not a fault, so that one check is left out.
        excluded = [positive_data_acceptance] if operation.method.upper() == "POST" else []

        @given(generated=operation.as_strategy())
        @examples(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(generated):
            generated.call_and_validate(headers=auth, excluded_checks=excluded)

        try:
            run()
        except Exception as failure:  # every operation is run; all their failures are reported together
            failures[operation.label] = str(failure)[:2000]
    assert failures == {}
