"""The README's Python example, run as written (addresses, token and secret filled in) against a live site
with a real worker: it submits a film, waits for the signed webhook and prints the FHIR report."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cases.audit.actors import Actor
from cases.integrations.services import issue_webhook_secret
from cases.models import Case, WebhookEvent
from cases.reviews.services import sign_review
from cxrsite.testing.images import png_bytes
from cxrsite.testing.stack import free_port, wait_for
from tests.factories import api_token, integration

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example(**values: str) -> str:
    """The check and the round-trip example of the README, with its placeholders replaced."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    check = next(block for block in blocks if "def signature_is_valid" in block)
    example = next(block for block in blocks if "Idempotency-Key" in block)
    for name, value in values.items():
        example, count = re.subn(rf"^{name} = .*$", f"{name} = {value}", example, flags=re.M)
        assert count == 1, name
    return check + "\n" + example


def test_the_readme_example_submits_waits_for_the_signed_webhook_and_reads_the_fhir_report(
        worker_storage, live_server, settings, clinic, radiologist, tmp_path):
    settings.CXR_SITE_URL = live_server.url  # the links in the webhook's body
    port = free_port()
    emr = integration("Hillside EMR", clinic, may_submit=True, receives_webhooks=True,
                      webhook_url=f"http://127.0.0.1:{port}/", webhook_events=["case.signed"])
    secret = issue_webhook_secret(integration=emr, actor=Actor.system())
    (tmp_path / "chest.png").write_bytes(png_bytes(256))
    script = tmp_path / "example.py"
    script.write_text(readme_example(API=repr(f"{live_server.url}/api/v1"), TOKEN=repr(api_token(emr)),
                                     SECRET=repr(secret), LISTEN=repr(("127.0.0.1", port))))

    run = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        case = wait_for(lambda: Case.objects.filter(status=Case.Status.PREDICTED).first(), timeout=90,
                        interval=0.2, what="the example's case to be classified")
        sign_review(case=case, reviewer=radiologist, finding="normal", note="Clear lungs.")
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 0, output
    assert f"submitted {case.public_id}" in output
    assert "signed: Normal" in output
    assert "final Normal\nClear lungs." in output
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.DELIVERED
