"""A task that only the architecture test's worker loads (`running_stack(include=...)`): it writes
the names of the modules its worker process has imported, so the test can look inside the worker."""

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
