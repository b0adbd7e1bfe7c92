"""Tasks that only some tests' workers load (`running_stack(include=...)`), so a test can look inside the
worker: the names of the modules its process has imported, the database connection a task used."""

import json
import os
import sys
from pathlib import Path

from celery import shared_task

LOADED_MODULES_TASK = "tests.worker_probe.loaded_modules"


@shared_task(name=LOADED_MODULES_TASK)
def loaded_modules(path: str) -> None:
    partial = Path(f"{path}.part")
    partial.write_text(json.dumps(sorted(sys.modules)))
    os.replace(partial, path)  # the test never reads half a list


DATABASE_CONNECTION_TASK = "tests.worker_probe.database_connection"
_connections = []  # kept, so that a closed connection's id is never reused by a new one


@shared_task(name=DATABASE_CONNECTION_TASK)
def database_connection(path: str) -> None:
    """Appends to `path` which database connection this task used (the worker's process and the connection)."""
    from django.contrib.auth.models import Group
    from django.db import connection

    Group.objects.exists()  # the task uses the database
    _connections.append(connection.connection)
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()}:{id(connection.connection)}\n")
