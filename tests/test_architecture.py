"""The shape of the code: no import cycles, a classifier library that knows nothing of cases,
migrations that do not depend on app code that moves, bench helpers outside tests/, one owner of
the stored-file columns, one door to the broker, serving modules free of TensorFlow and Django (and
a worker that never loads the training code), and a DICOM listener that needs no web form."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test.utils import isolate_apps
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cases", "classifier", "cxrsite")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imported(path: Path, name: str, known: dict, *, top_level_only: bool) -> set[str]:
    """Project modules a file imports (relative imports resolved; `from pkg import mod` -> pkg.mod)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {module for module in found if module in known}


def test_no_module_of_the_project_takes_part_in_an_import_cycle():
    known = modules()
    # Lazy imports inside functions count too: a cycle through them is still a cycle.
    graph = {name: imported(path, name, known, top_level_only=False) for name, path in known.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in graph[node] - {node}:
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_classifier_imports_nothing_from_cases_or_the_site():
    known = modules()
    for name, path in known.items():
        if name.startswith("classifier"):
            outside = {m for m in imported(path, name, known, top_level_only=False) if not m.startswith("classifier")}
            assert outside == set(), name


def test_migrations_import_no_app_code():
    for path in (ROOT / "cases" / "migrations").glob("0*.py"):
        known = modules()
        assert imported(path, module_name(path), known, top_level_only=False) == set(), path.name


def test_benchmarks_import_nothing_from_the_tests():
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {n for n in names if n == "tests" or n.startswith("tests.")}, path.name


def reachable(start: str, known: dict) -> set[str]:
    """Every project module `start` imports, directly or through others (lazy imports included)."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imported(known[name], name, known, top_level_only=False)
    return seen


# --- Stored files: one owner (cases/storage/columns.py) -------------------------------------

# A column whose name says "file" names a stored file unless it is listed here, with the reason.
LOOKS_LIKE_A_FILE = re.compile(r"(_name|file|filename|_path)$")
NOT_STORED_FILES = {
    ("cases", "Case", "original_filename"): "the name the sender's file had, shown; never a storage name",
    ("classifier", "ModelVersion", "file"): "a model file on the worker machines, outside private storage",
}


def project_models() -> list[type[models.Model]]:
    return [model for app in ("cases", "classifier") for model in apps.get_app_config(app).get_models()]


def unlisted_file_columns(model_classes) -> set[tuple[str, str, str]]:
    """Columns that look like file names and that neither the storage owner nor NOT_STORED_FILES lists."""
    from cases.storage.columns import STORED_FILE_COLUMNS

    listed = {(model._meta.app_label, model.__name__, column) for model, columns in STORED_FILE_COLUMNS.items()
              for column in columns}
    return {(model._meta.app_label, model.__name__, field.name) for model in model_classes
            for field in model._meta.concrete_fields
            if isinstance(field, (models.FileField, models.FilePathField))
            or isinstance(field, (models.CharField, models.TextField)) and LOOKS_LIKE_A_FILE.search(field.name)
            } - listed - set(NOT_STORED_FILES)


def test_every_model_column_that_names_a_stored_file_is_listed_by_the_storage_owner():
    from cases.storage.columns import STORED_FILE_COLUMNS

    assert unlisted_file_columns(project_models()) == set(), (
        "list them in cases/storage/columns.py, or in NOT_STORED_FILES with the reason they name no stored file")
    for model, columns in STORED_FILE_COLUMNS.items():
        for column in columns:  # the list names real text columns, so the sweep's queries mean what they say
            assert isinstance(model._meta.get_field(column), models.CharField), (model, column)


@isolate_apps("cases")
def test_a_model_that_gains_a_stored_file_column_the_storage_owner_does_not_list_fails_the_rule():
    class LungMask(models.Model):  # as the lung-segmentation issue might add it
        case_id = models.IntegerField()
        mask_name = models.CharField(max_length=200)

        class Meta:
            app_label = "cases"

    assert unlisted_file_columns([*project_models(), LungMask]) == {("cases", "LungMask", "mask_name")}


# --- One door to the broker -----------------------------------------------------------------

# cxrsite/__init__.py imports the app so that @shared_task binds to it in every process (Celery's
# documented pattern); cxrsite/testing/stack.py is a test helper that points the app at the test's
# broker and pings its workers. Tests themselves (tests/) may use the app directly.
CELERY_APP_IMPORTERS = {"cases.queue", "cxrsite", "cxrsite.testing.stack"}


def imports_the_celery_app(path: Path, name: str) -> bool:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(alias.name == "cxrsite.celery" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = {base} | {f"{base}.{alias.name}" for alias in node.names}
            if names & {"cxrsite.celery", "cxrsite.celery_app"}:
                return True
    return False


def test_only_the_queue_module_imports_the_celery_app():
    known = modules()
    known |= {f"bench.{path.stem}": path for path in (ROOT / "bench").glob("*.py")}
    importers = {name for name, path in known.items() if imports_the_celery_app(path, name)}
    assert importers == CELERY_APP_IMPORTERS


# --- Serving without TensorFlow, Keras or Django ----------------------------------------------

SERVING_MODULES = ("labels", "imaging", "preprocessing", "artifacts", "calibration", "inference", "gate",
                   "validation")
# What each serving module is asked to do in its subprocess, so lazy imports are counted too.
SERVING_USE = {
    "imaging": "classifier.imaging.decode_image(png)",
    "preprocessing": "classifier.preprocessing.to_model_input(classifier.preprocessing.load_grayscale(png), 64)",
    "inference": "classifier.inference.classify(film, model_path=classifier.artifacts.COMMITTED_MODEL)",
    "gate": "classifier.gate.check(film)",
    "validation": "classifier.validation.validate_model_file(classifier.artifacts.COMMITTED_MODEL)",
}


def loaded_in_a_subprocess(script: str, *, roots: tuple[str, ...], **env) -> list[str]:
    """The modules under these top-level names, and of classifier.training, that `script` left loaded."""
    report = ("import json, sys\n"
              f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}"
              " or m.startswith('classifier.training'))))\n")
    output = subprocess.run([sys.executable, "-c", script + report], cwd=ROOT, check=True, capture_output=True,
                            text=True, env={**os.environ, **env}).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize("name", SERVING_MODULES)
def test_a_serving_module_of_the_classifier_imports_neither_tensorflow_keras_django_nor_training(name):
    script = ("import io\nimport numpy as np\nfrom PIL import Image\n"
              "film = np.full((200, 180), 120, np.uint8)\nbuffer = io.BytesIO()\n"
              "Image.fromarray(film).save(buffer, format='PNG')\npng = buffer.getvalue()\n"
              f"import classifier.{name}\nimport classifier.artifacts\n{SERVING_USE.get(name, '')}\n")
    assert loaded_in_a_subprocess(script, roots=("tensorflow", "keras", "django")) == []


def test_the_registry_is_the_serving_side_django_face_and_loads_no_tensorflow_keras_or_training():
    script = "import django\ndjango.setup()\nfrom classifier.registry import served_gate\nserved_gate()\n"
    assert loaded_in_a_subprocess(script, roots=("tensorflow", "keras"), DJANGO_SETTINGS_MODULE="cxrsite.settings") == []


def test_no_serving_module_imports_the_training_package():
    known = modules()
    for name in SERVING_MODULES + ("registry", "models", "admin", "signals"):
        assert not {m for m in reachable(f"classifier.{name}", known) if m.startswith("classifier.training")}, name


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_has_not_imported_the_training_code_after_classifying_a_case(client, staff, clinic, settings,
                                                                                 tmp_path):
    from cases import queue
    from cases.models import Case
    from cxrsite.testing.images import png_bytes
    from cxrsite.testing.stack import running_stack, wait_for
    from tests.worker_probe import LOADED_MODULES_TASK

    with running_stack(include=("tests.worker_probe",)) as stack:
        settings.CXR_STORAGE_DIR = stack.storage_dir
        client.force_login(staff)
        client.post(reverse("cases:case_new"), {
            "clinic": clinic.pk, "mrn": "H-7001", "age": "50", "sex": "F", "view": "PA",
            "image": SimpleUploadedFile("chest.png", png_bytes(256), content_type="image/png")})
        case = Case.objects.get()
        wait_for(lambda: Case.objects.get(pk=case.pk).status == Case.Status.PREDICTED, timeout=60, interval=0.1,
                 what="the worker to classify the case")
        listing = tmp_path / "modules.json"
        assert queue.publish(LOADED_MODULES_TASK, str(listing))
        wait_for(listing.exists, timeout=30, interval=0.1, what="the worker to list its modules")
    loaded = json.loads(listing.read_text())
    assert "classifier.inference" in loaded  # the process that classified the case, not a fresh one
    assert [m for m in loaded if m.startswith("classifier.training") or m.split(".")[0] in ("tensorflow", "keras")] == []


# --- The DICOM listener needs no web form ----------------------------------------------------

def test_the_dicom_listener_imports_nothing_from_the_intake_form():
    known = modules()
    for start in ("cases.dicom.listener", "cases.management.commands.dicom_listener"):
        assert "cases.intake.forms" not in reachable(start, known), start


# --- One rule for what outside systems see of the AI -------------------------------------------

def test_the_integrations_read_a_prediction_only_through_the_one_exposure_rule():
    """The API, FHIR and webhooks show an AI result only through `selectors.exposed_prediction` (where the
    local-validation rule of issue 26 goes): no other module of the package reads predictions itself."""
    for path in (ROOT / "cases" / "integrations").glob("*.py"):
        if path.name == "selectors.py":
            continue
        text = path.read_text()
        for reader in ("latest_prediction", "predictions.", "Prediction.objects", "result_for("):
            assert reader not in text, f"{path.name} reads predictions with {reader!r}"
