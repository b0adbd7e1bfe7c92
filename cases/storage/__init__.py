"""Private storage for patient images and the DICOM results made from them, outside every static and
public media path. The owner of every stored file: which model columns name them (columns.py) and
the sweep of files no row names (sweep.py) live in this package too.

Names are generated here (a UUID and a suffix we choose), so nothing a user sends ever
becomes part of a path. Files are served only by access-checked views. Every write is atomic
(a temporary name in the same folder, fsync, rename), so a failed write (disk full, storage
read-only) leaves no file behind, and a file under its final name is always complete.
"""

import fcntl
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ALLOWED_SUFFIXES = {".png", ".jpg", ".dcm"}
TEMPORARY_SUFFIX = ".part"
PARTIAL_SUFFIX = ".tus"  # the bytes of a resumable upload received so far (cases.models.Upload.partial_name)
_STEM = re.compile(r"[0-9a-f]{32}")


def root() -> Path:
    return Path(settings.CXR_STORAGE_DIR)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bytes(data: bytes, suffix: str) -> str:
    """Write `data` under a new name in a two-character shard folder; return the name."""
    if suffix not in ALLOWED_SUFFIXES:
        raise ValueError(f"unexpected suffix {suffix!r}")
    name = f"{uuid.uuid4().hex}{suffix}"
    path = path_of(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + TEMPORARY_SUFFIX)
    # O_EXCL: never overwrite; 0600: readable only by the service account.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(partial, path)  # atomic within one folder
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)  # the rename itself survives a power loss
    return name


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def path_of(name: str) -> Path:
    stem, suffix = os.path.splitext(name)
    if not _STEM.fullmatch(stem) or suffix not in ALLOWED_SUFFIXES | {PARTIAL_SUFFIX}:
        raise ValueError(f"not a storage name: {name!r}")  # never a path a caller made up
    return root() / stem[:2] / name


class PartialBusy(Exception):
    """Another request is writing this partial file just now."""


def create_partial() -> str:
    """A new, empty partial file for a resumable upload; return its name."""
    name = f"{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
    path = path_of(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _fsync_folder(path.parent)
    return name


@contextmanager
def writing_partial(name: str):
    """The partial file open for writing, held with an exclusive lock for the whole block (one writer per
    upload across every web process); PartialBusy at once when another request holds it."""
    if not name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"not a partial file: {name!r}")
    with path_of(name).open("r+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PartialBusy from None
        yield handle  # the lock goes with the file's closing


def open_file(name: str):
    return path_of(name).open("rb")


def delete(name: str) -> None:
    """Remove one file, whoever refers to it: services discard their writes with `columns.discard`."""
    path_of(name).unlink(missing_ok=True)


def stored_files(*, older_than_seconds: float) -> Iterator[tuple[str, Path]]:
    """(name, path) of every file in storage last modified more than the given age ago,
    finished files and left-over temporary ones alike (their name is the final name + .part)."""
    cutoff = time.time() - older_than_seconds
    for path in root().glob("??/*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                yield path.name.removesuffix(TEMPORARY_SUFFIX), path
        except FileNotFoundError:  # removed meanwhile
            continue
