"""The Celery app: settings come from cxrsite.settings under the CELERY_ namespace.

The worker runs the prefork pool (`make worker`: one child per core you give it, one
intra-op thread each). The classifier model is loaded lazily by `classifier.inference` on the
first task in each child process, never in the parent: a model runtime initialised before
fork hangs the children. Nothing the parent imports (this module, cases.tasks,
cases.classification.services) touches the model.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxrsite.settings")

app = Celery("cxrsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
