"""The Celery app: settings come from cxrsite.settings under the CELERY_ namespace.

The worker runs the prefork pool (`make worker`: one child per core you give it, one
intra-op thread each). The classifier model is loaded lazily by `classifier.inference` on the
first task in each child process, never in the parent: a model runtime initialised before
fork hangs the children. Nothing the parent imports (this module, cases.tasks,
cases.classification.services) touches the model.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxrsite.settings")

app = Celery("cxrsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(task=None, **kwargs) -> None:
    """A task's database connections live as a request's do (settings.CELERY_DB_REUSE_MAX says why). Not for
    a task run eagerly: it runs inside its caller's request or transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections as close_if_old_or_broken

    close_if_old_or_broken()
