"""Model files on disk: where the committed model and gate are, their sidecars, hashes and stored paths.

No Django and no model runtime here, so the serving library, the registry and the training
scripts can all use it without importing each other.
"""

import hashlib
import json
from pathlib import Path

from classifier.labels import LABELS

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINED_DIR = Path(__file__).resolve().parent / "trained"
COMMITTED_MODEL = TRAINED_DIR / "own.tflite"
COMMITTED_GATE = TRAINED_DIR / "gate.tflite"
# The shared datasets live beside the repository (../shared), in CI as on the team's machines.
SHARED_DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"


class ModelFileError(Exception):
    """A model or gate file that cannot be loaded, or that fails the checks made before it is registered.

    The message says why in words an administrator can act on, never the runtime's own text;
    a worker that meets one files the case's failure under "the model", not "the image".
    """


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metadata(model_path: str | Path) -> dict:
    """The sidecar `<file>.json` written at training time, with defaults for a bare file."""
    sidecar = Path(f"{model_path}.json")
    metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    metadata.setdefault("name", Path(model_path).stem)
    metadata.setdefault("architecture", "unknown")
    metadata.setdefault("labels", list(LABELS))
    return metadata


def stored_path(path: str | Path) -> str:
    """Inside the repository a file is stored relative to it, so checkouts elsewhere find it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def resolve_stored(stored: str) -> Path:
    """The file a stored path names on this machine (the inverse of `stored_path`)."""
    path = Path(stored)
    return path if path.is_absolute() else REPO_ROOT / path
