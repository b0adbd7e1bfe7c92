"""Shared by the benchmark scripts: machine facts, repeated timing, and BENCHMARKS.md sections.

Each script owns one section of BENCHMARKS.md, delimited by HTML comments, and rewrites
only that section, so scripts can run alone or all together (`make bench`).
"""

import fcntl
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nWritten by the scripts in `bench/` (`make bench` runs them all). Each section says when and where it was measured.\n"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = match.group(1).strip() if match else cpu
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}"


def versions(*packages: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in packages:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found)


def stamp(*packages: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"Measured {now} on {machine()}; {versions(*packages)}."


def spread(values: list[float]) -> str:
    """Median with min-max over the repeats, the form every figure is reported in."""
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.median(values):.3g} ({min(values):.3g}-{max(values):.3g})"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process in MB, from /proc."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section `key` of BENCHMARKS.md.

    Under an exclusive lock: two scripts finishing together would otherwise each write the
    file they read, and one section would be lost.
    """
    block = f"<!-- bench:{key} -->\n## {title}\n\n{body.strip()}\n<!-- /bench:{key} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(key)} -->.*?<!-- /bench:{re.escape(key)} -->", re.S)
    with open(BENCHMARKS.with_suffix(".md.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        BENCHMARKS.write_text(text)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_python(code: str, env: dict | None = None) -> str:
    """Run code in a fresh interpreter (so imports and RSS are measured cleanly)."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **(env or {})},
                            capture_output=True, text=True, check=True)
    return result.stdout


def django_setup(workdir: Path, *, reuse: bool = False) -> None:
    """Set Django up in this process on a scratch database (or BENCH_DATABASE_URL, emptied first unless
    `reuse`: then its rows are kept and only missing migrations are applied)."""
    os.environ.update({
        "SECRET_KEY": "bench-only-" + "k" * 50, "HTTPS": "0", "DEBUG": "0", "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver", "CXR_DATA_DIR": str(workdir),
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}",
    })
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxrsite.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages render with the finders' static files: no manifest is built for a benchmark.
    settings.STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if os.environ.get("BENCH_DATABASE_URL") and not reuse:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
