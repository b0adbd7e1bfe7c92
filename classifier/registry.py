"""Model versions: registering model files, switching the active one, and which model and gate are served.

`served_version()` is the one answer to "which model": the file pinned with CXR_MODEL_PATH
(registered on first use, so every prediction names the model that made it), otherwise the
version active in the admin, otherwise the committed model (registered and activated on a
fresh install). The worker asks once per case and classifies with that version's file.
`served_gate()` is the one answer to "which input gate": CXR_GATE_PATH, else the committed gate.

The serving side's Django face: the pure serving modules (inference, gate, imaging, ...) are
told which file to run and import no Django; this module reads the settings and the versions.
"""

import json
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from classifier.artifacts import (COMMITTED_GATE, COMMITTED_MODEL, ModelFileError, file_sha256, resolve_stored,
                                  stored_path)
from classifier.models import ModelVersion
from classifier.signals import model_activated
from classifier.validation import validate_model_file


def model_file(version: ModelVersion) -> Path:
    return resolve_stored(version.file)


def register_model(path: str | Path, *, activate: bool = False, user=None) -> ModelVersion:
    """Register a LiteRT file (with its sidecar JSON, and metrics.json beside it when present).

    A new file is checked first (`classifier.validation`: it loads, matches its sidecar and gives
    finite probabilities that sum to one on fixture films); ModelFileError says why it is refused.
    Registering the same file (same SHA-256) twice returns the existing version.
    """
    path = Path(path)
    sha256 = file_sha256(path) if path.is_file() else None
    version = ModelVersion.objects.filter(sha256=sha256).first() if sha256 else None
    if version is None:
        metadata = validate_model_file(path)
        metrics = read_metrics(path, sha256=sha256)
        name = metadata["name"]
        if ModelVersion.objects.filter(name=name).exists():
            name = f"{name}-{sha256[:12]}"
        version = ModelVersion.objects.create(
            name=name, architecture=metadata["architecture"], file=stored_path(path), sha256=sha256,
            metrics=metrics, training_data=_training_data(metadata),
        )
    if activate:
        activate_version(version, user=user)
    return version


def read_metrics(path: Path, *, sha256: str) -> dict:
    """The test-split figures in metrics.json beside the file (`evaluate_classifier --save`), if they are its own."""
    metrics_file = path.parent / "metrics.json"
    if not metrics_file.exists():
        return {}
    try:
        metrics = json.loads(metrics_file.read_text())
    except ValueError:
        raise ModelFileError("the metrics.json beside it is not valid JSON") from None
    described = (metrics.get("model") or {}).get("sha256") if isinstance(metrics, dict) else None
    if described and described != sha256:
        raise ModelFileError("the metrics.json beside it describes another model file: evaluate this one "
                             "(evaluate_classifier --model FILE --save) or move the old figures away")
    return metrics if isinstance(metrics, dict) else {}


def _training_data(metadata: dict) -> str:
    if "data" not in metadata:
        return ""
    return (f"{metadata['data']} (split by patient group, seed {metadata.get('seed')}; "
            f"split saved as {metadata.get('split', 'split.csv')} beside the model)")


def activate_version(version: ModelVersion, *, user=None, evidence: dict | None = None) -> ModelVersion:
    """Make `version` the one active model (and end its trial: it is served now); sends
    `model_activated` in the same transaction, so the audit row a receiver writes commits with
    the switch. `evidence` is what the administrator saw before confirming (the trial comparison)."""
    with transaction.atomic():
        previous = ModelVersion.objects.select_for_update().filter(active=True).first()
        if previous is not None and previous.pk == version.pk:
            return version
        ModelVersion.objects.filter(active=True).update(active=False)
        ModelVersion.objects.filter(pk=version.pk).update(active=True, on_trial=False)
        version.refresh_from_db()
        model_activated.send(sender=ModelVersion, version=version, previous=previous, user=user,
                             evidence=evidence or {})
    return version


def active_version() -> ModelVersion:
    """The active version; on a fresh install, the committed model (registered and activated)."""
    version = ModelVersion.objects.filter(active=True).first()
    if version is not None:
        return version
    try:
        with transaction.atomic():
            return register_model(COMMITTED_MODEL, activate=True)
    except IntegrityError:  # another process registered it at the same moment
        return ModelVersion.objects.get(active=True)


_pinned: dict[tuple[str, int, int], int] = {}  # (path, size, mtime) -> version id, per process


def pinned_version(path: str | Path) -> ModelVersion:
    """The version of a pinned file, registered (not activated) the first time it is served.

    The file is hashed once per process (and again only if it changes on disk), not per case.
    A missing or invalid file raises ModelFileError: the model's fault, not the image's.
    """
    try:
        stat = Path(path).stat()
    except OSError:
        raise ModelFileError("the pinned model file (CXR_MODEL_PATH) is missing") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    version = ModelVersion.objects.filter(pk=_pinned[key]).first() if key in _pinned else None
    if version is None:
        try:
            with transaction.atomic():
                version = register_model(path)
        except IntegrityError:  # another worker registered it at the same moment
            version = ModelVersion.objects.get(sha256=file_sha256(path))
        _pinned[key] = version.pk
    return version


def served_version() -> ModelVersion:
    """The version the workers serve now: CXR_MODEL_PATH if set, else the active one."""
    pinned = getattr(settings, "CXR_MODEL_PATH", "") or ""
    return pinned_version(pinned) if pinned else active_version()


def served_gate() -> Path:
    """The input gate file the workers run: CXR_GATE_PATH if set, else the committed gate."""
    return Path(settings.CXR_GATE_PATH) if settings.CXR_GATE_PATH else COMMITTED_GATE


def trial_versions(served: ModelVersion | None = None) -> list[ModelVersion]:
    """The versions on silent trial, except the one served now (it already predicts every case).

    The served version is looked up only when some version is on trial: the worker asks after every
    case, and most of the time none is."""
    on_trial = list(ModelVersion.objects.filter(on_trial=True).order_by("created", "id"))
    if not on_trial:
        return []
    served = served or served_version()
    return [version for version in on_trial if version.pk != served.pk]
