"""Model versions: registering model files and switching which one the workers serve."""

import json
from pathlib import Path

from django.db import IntegrityError, transaction

from classifier.inference import default_model_path, file_sha256, read_metadata
from classifier.models import ModelVersion
from classifier.signals import model_activated

REPO_ROOT = Path(__file__).resolve().parent.parent


def stored_path(path: str | Path) -> str:
    """Inside the repository a file is stored relative to it, so checkouts elsewhere find it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def model_file(version: ModelVersion) -> Path:
    path = Path(version.file)
    return path if path.is_absolute() else REPO_ROOT / path


def register_model(path: str | Path, *, activate: bool = False, user=None, request=None) -> ModelVersion:
    """Register a LiteRT file (with its sidecar JSON and metrics.json beside it, when present).

    Registering the same file (same SHA-256) twice returns the existing version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}")
    sha256 = file_sha256(path)
    version = ModelVersion.objects.filter(sha256=sha256).first()
    if version is None:
        metadata = read_metadata(path)
        name = metadata["name"]
        if ModelVersion.objects.filter(name=name).exists():
            name = f"{name}-{sha256[:12]}"
        metrics_file = path.parent / "metrics.json"
        version = ModelVersion.objects.create(
            name=name, architecture=metadata["architecture"], file=stored_path(path), sha256=sha256,
            metrics=json.loads(metrics_file.read_text()) if metrics_file.exists() else {},
            training_data=_training_data(metadata),
        )
    if activate:
        activate_version(version, user=user, request=request)
    return version


def _training_data(metadata: dict) -> str:
    if "data" not in metadata:
        return ""
    return (f"{metadata['data']} (split by patient group, seed {metadata.get('seed')}; "
            f"split saved as {metadata.get('split', 'split.csv')} beside the model)")


def activate_version(version: ModelVersion, *, user=None, request=None) -> ModelVersion:
    """Make `version` the one active model; sends `model_activated` in the same transaction."""
    with transaction.atomic():
        previous = ModelVersion.objects.select_for_update().filter(active=True).first()
        if previous is not None and previous.pk == version.pk:
            return version
        ModelVersion.objects.filter(active=True).update(active=False)
        ModelVersion.objects.filter(pk=version.pk).update(active=True)
        version.refresh_from_db()
        model_activated.send(sender=ModelVersion, version=version, previous=previous, user=user, request=request)
    return version


def active_version() -> ModelVersion:
    """The active version; on a fresh install, the committed model (registered and activated)."""
    version = ModelVersion.objects.filter(active=True).first()
    if version is not None:
        return version
    try:
        with transaction.atomic():
            return register_model(default_model_path(), activate=True)
    except IntegrityError:  # another process registered it at the same moment
        return ModelVersion.objects.get(active=True)
