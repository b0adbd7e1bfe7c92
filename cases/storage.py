"""Private storage for patient images, outside every static and public media path.

Names are generated here (a UUID and a suffix we choose), so nothing a user sends ever
becomes part of a path. Files are served only by access-checked views.
"""

import hashlib
import os
import re
import uuid
from pathlib import Path

from django.conf import settings

ALLOWED_SUFFIXES = {".png", ".jpg", ".dcm"}
_STEM = re.compile(r"[0-9a-f]{32}")


def root() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bytes(data: bytes, suffix: str) -> str:
    """Write `data` under a new name; the name is in a two-character shard folder."""
    if suffix not in ALLOWED_SUFFIXES:
        raise ValueError(f"unexpected suffix {suffix!r}")
    name = f"{uuid.uuid4().hex}{suffix}"
    path = path_of(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: never overwrite; 0600: readable only by the service account.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return name


def path_of(name: str) -> Path:
    stem, suffix = os.path.splitext(name)
    if not _STEM.fullmatch(stem) or suffix not in ALLOWED_SUFFIXES:
        raise ValueError(f"not a storage name: {name!r}")  # never a path a caller made up
    return root() / stem[:2] / name


def open_file(name: str):
    return path_of(name).open("rb")


def delete(name: str) -> None:
    path_of(name).unlink(missing_ok=True)
