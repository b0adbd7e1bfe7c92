"""The web process never loads the model runtime: TensorFlow alone costs ~600 MB and 3.5 s per process."""

import os
import subprocess
import sys

import pytest

from tests.factories import make_case
from cxrsite.testing.stack import BASE_DIR, database_url

# Runs in a fresh interpreter: the test process itself may have imported TensorFlow for other tests.
WEB_SESSION = """
import sys
import cxrsite.wsgi  # what gunicorn loads
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.urls import get_resolver, reverse
from cases.models import Case

setup_test_environment()
get_resolver().url_patterns  # imports every view module
client = Client()
client.force_login(User.objects.get(username=sys.argv[1]))
case = Case.objects.get()
urls = [reverse("cases:case_list"), reverse("cases:case_detail", args=[case.public_id]),
        reverse("cases:case_status", args=[case.public_id]), reverse("cases:case_new"), "/healthz"]
static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                                 "staticfiles": static}):
    for url in urls:
        status = client.get(url).status_code
        assert status in (200, 503), (url, status)
loaded = [name for name in ("tensorflow", "keras", "ai_edge_litert") if name in sys.modules]
print("model runtimes loaded:", ",".join(loaded))
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_process_serves_case_pages_without_importing_tensorflow(staff, clinic, tmp_path):
    make_case(clinic, staff, status="queued")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cxrsite.settings", "DATABASE_URL": database_url(),
           "CXR_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:9/0"}  # no broker: nothing to ping

    done = subprocess.run([sys.executable, "-c", WEB_SESSION, staff.username], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "model runtimes loaded: "
