"""A real worker whose active model version does not load on its machine: the case is never blamed on
the image, it waits and is retried, /healthz says the model is at fault, the administrators get one
mail (through a real SMTP receiver), and once the file is back the same case is predicted.

Issue 33 found every new case failed for good as "the stored image could not be read as an X-ray"."""

import shutil
import socketserver
import threading

import pytest
from django.test import Client

from cases.classification.services import enqueue_case
from cases.models import AuditEvent, Case, ModelFault, Prediction
from classifier.artifacts import COMMITTED_MODEL, file_sha256, stored_path
from classifier.models import ModelVersion
from cxrsite.testing.images import png_bytes
from cxrsite.testing.stack import running_stack, wait_for
from tests.test_worker_pipeline import stored_case, wait_until_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker_storage")]


class SmtpSession(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's SMTP backend: every message's text is kept on the server."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        self.reply("220 receiver ESMTP")
        lines, in_data = [], False
        for raw in self.rfile:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    self.server.messages.append("\n".join(lines))
                    lines, in_data = [], False
                    self.reply("250 queued")
                else:
                    lines.append(line[1:] if line.startswith("..") else line)
            elif line[:4].upper() == "DATA":
                in_data = True
                self.reply("354 end with a dot")
            elif line[:4].upper() == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class SmtpReceiver(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SmtpSession)
        self.messages: list[str] = []
        self.port = self.server_address[1]


@pytest.fixture(scope="module")
def mailbox():
    receiver = SmtpReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


@pytest.fixture(scope="module")
def stack(django_db_setup, mailbox):
    # Not pinned: the workers serve the version active in the admin, as in production. Retries 1, 2, 4 ... s.
    with running_stack(env={"CXR_MODEL_PATH": "", "CXR_TASK_RETRY_BACKOFF_SECONDS": "1",
                            "CXR_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                            "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mailbox.port)}) as running:
        yield running


@pytest.fixture
def unloadable_active_version(stack, tmp_path):
    """The active version's file as this worker machine has it: replaced by bytes LiteRT cannot load
    (registered and checked elsewhere, copied here broken)."""
    path = tmp_path / "own.tflite"
    path.write_bytes(b"\x00" * 4096 + b"not a flatbuffer")
    shutil.copy(f"{COMMITTED_MODEL}.json", f"{path}.json")
    return path, ModelVersion.objects.create(name="own-broken-copy", architecture="own", file=stored_path(path),
                                             sha256=file_sha256(COMMITTED_MODEL), active=True)


def releases(case: Case):
    return AuditEvent.objects.filter(case=case, action=AuditEvent.Action.STATUS_CHANGED, details__cause="model")


def test_a_model_that_does_not_load_is_the_models_fault_retried_reported_on_healthz_and_mailed_once(
        stack, mailbox, staff, clinic, administrator, unloadable_active_version):
    administrator.email = "oversight@hospital.example"
    administrator.save()
    path, version = unloadable_active_version
    health = Client()
    assert health.get("/healthz").json()["model"] is True
    first, second = (stored_case(staff, clinic, png_bytes(seed=seed)) for seed in (41, 42))
    for case in (first, second):
        enqueue_case(case.pk)
    wait_for(lambda: releases(first).count() >= 2 and releases(second).exists(), timeout=60, interval=0.2,
             what="the worker to fail to load the model, release the cases and retry them")

    for case in Case.objects.filter(pk__in=[first.pk, second.pk]):
        assert case.status in (Case.Status.QUEUED, Case.Status.CLASSIFYING)  # waiting, not failed
        assert case.failure_cause == Case.FailureCause.MODEL
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CLASSIFICATION_FAILED).exists()
    answer = health.get("/healthz")
    assert answer.status_code == 200  # the web server still takes cases: they wait
    assert answer.json() == {"ok": True, "database": True, "redis": True, "model": False, "worker": False}
    fault = ModelFault.objects.get()
    assert (fault.model, fault.reason) == ("own-broken-copy", "the model file could not be loaded")
    opened = AuditEvent.objects.filter(action=AuditEvent.Action.MODEL_FAULT, details__state="opened")
    assert opened.count() == 1 and str(path) not in str(opened.get().details)
    wait_for(lambda: mailbox.messages, timeout=10, what="the mail to the administrators")
    [mail] = mailbox.messages
    assert "oversight@hospital.example" in mail and "own-broken-copy" in mail and "not failed" in mail

    shutil.copy(COMMITTED_MODEL, path)  # the file is put back on the machine
    for case in (first, second):
        finished = wait_until_finished(case, timeout=90)  # the task's own retry picks it up
        assert finished.status == Case.Status.PREDICTED, finished.failure_reason
        assert Prediction.objects.get(case=case).model_version == version
    assert health.get("/healthz").json()["model"] is True
    assert not ModelFault.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MODEL_FAULT, details__state="closed").count() == 1
    assert len(mailbox.messages) == 1  # once for the fault, not once per case or retry
