"""Real faults for the reliability tests: a full disk, a read-only folder, a frozen broker.

They use the kernel (tmpfs, bind mounts, SIGSTOP), so they need root, as CI and the project's
machines have; each undoes itself on exit.
"""

import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@contextmanager
def full_disk(folder: Path, *, size: str = "64k"):
    """A tiny tmpfs at `folder`: writes past `size` fail with ENOSPC."""
    folder.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _run("umount", "-l", str(folder))


@contextmanager
def read_only(folder: Path):
    """`folder` remounted read-only for everyone (EROFS on write), then writable again."""
    _run("mount", "--bind", str(folder), str(folder))
    try:
        _run("mount", "-o", "remount,ro,bind", str(folder))
        yield folder
    finally:
        _run("umount", "-l", str(folder))


@contextmanager
def frozen(process: subprocess.Popen):
    """The process stopped (SIGSTOP): its sockets accept and never answer, as a hung server's do."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield process
    finally:
        os.kill(process.pid, signal.SIGCONT)


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())
