"""A 20 MB film over a poor link: the folder forwarder (bin/forward, resumable tus uploads) against the
plain one-POST upload, through an emulated 256 kbit/s link that drops three times for 30 s; and the
server CPU the chunking costs per case against one POST of the same file.

The link is a TCP relay in this process between the client and gunicorn: 256 kbit/s each way (a
pause after each piece it carries), and a drop closes every connection and refuses new ones for its
length. "Bytes sent" are the bytes the relay carried from the client, the lost ones included: the
link's cost to the clinic. Nobody acts during the run: the forwarder is started once with --once.
CPU: gunicorn's processes (utime+stime from /proc) around each upload over loopback with no relay,
median of the runs after two unmeasured uploads of each kind (a worker's first requests import what
later ones reuse), measured first (its table is written before the ~13 minutes of the link's runs):
the clients' path (the film in one PATCH, its SHA-256 checked at the end) and, for comparison, the
film in pieces each with a SHA-1 checksum.

    .venv/bin/python bench/poor_link.py [--mb 20] [--kbit 256] [--drop-seconds 30] [--runs 3] [--no-link]
"""

import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import Web, configure, descendants  # noqa: E402
from cxrsite.testing.link import Link  # noqa: E402
from bench.report import stamp, table, write_section  # noqa: E402

def load_forwarder():
    loader = importlib.machinery.SourceFileLoader("forward", str(ROOT / "bin" / "forward"))
    spec = importlib.util.spec_from_loader("forward", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def schedule_drops(link: Link, *, at: list[float], seconds: float) -> threading.Thread:
    def run():
        started = time.monotonic()
        for moment in at:
            time.sleep(max(0.0, started + moment - time.monotonic()))
            link.drop(seconds)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def film(folder: Path, name: str, mb: float, patient: str) -> Path:
    from cxrsite.testing.dicoms import write_large_dicom

    side = int((mb * 1024 * 1024 / 2) ** 0.5)
    path = folder / name
    write_large_dicom(path, side=side, patient_id=patient)
    return path


def one_post(base: str, token: str, path: Path, *, timeout: float) -> str:
    """The plain upload: one multipart POST of the whole film. Its outcome, in words."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/dicom\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/api/v1/cases/", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"filed ({response.status})"
    except urllib.error.HTTPError as error:
        return f"refused ({error.code})"
    except OSError as error:
        return f"failed: {error.__class__.__name__}"


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for proc in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--kbit", type=float, default=256)
    parser.add_argument("--drop-seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-link", action="store_true", help="only the server CPU per case")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-poor-link-"))
    env = configure(workdir)
    from cases.audit.actors import Actor
    from cases.integrations.services import issue_token
    from cases.models import Case, Clinic, Integration

    integration = Integration.objects.create(name="X-ray room", may_submit=True)
    integration.clinics.set([Clinic.objects.get(code="demo")])
    token = issue_token(integration=integration, actor=Actor.system())
    forward = load_forwarder()
    rate = args.kbit * 1000 / 8
    web = Web({**env, "CXR_API_RATE_LIMIT": "100000"})
    size = None
    rows_link = []
    # A CPU-only run (a quick re-measure) has its own section: it never hides the last run over the link.
    section = (("poor-link-cpu", "A film over a poor link: server CPU per case (runs without the link)")
               if args.no_link else ("poor-link", "A film over a poor link: resumable uploads"))

    def report() -> str:
        one = statistics.median(cpu["one POST"])
        rows = [[label, f"{statistics.median(values):.2f}", f"{statistics.median(values) / one:.3f}",
                 " ".join(f"{value:.2f}" for value in values)] for label, values in cpu.items()]
        parts = [stamp()]
        if rows_link:
            parts += [f"A {size / 1e6:.1f} MB DICOM over a relay emulating {args.kbit:g} kbit/s each way; "
                      "`bench/poor_link.py`.",
                      table(["upload", "drops", "outcome", "cases filed", "bytes sent / file", "wall time",
                             "user actions"], rows_link)]
        else:
            parts += ["(The link's runs were not part of this run: `--no-link`, or still going.)"]
        parts += [
            f"Server CPU per case ({args.mb:g} MB DICOM; gunicorn's processes, median of {args.runs} runs, loopback; "
            "the clients send the film in one PATCH):",
            table(["upload", "CPU s per case", "ratio to one POST", "each run (s)"], rows),
            "Targets: filed once, bytes sent <= 1.05 x the file, no user action; the resumable path <= 1.05 x the "
            "CPU of one POST.",
        ]
        return "\n\n".join(parts)

    cpu = {"one POST": [], "tus, the film in one PATCH, SHA-256 checked at the end (the clients' path)": [],
           "tus, 1 MB pieces each with SHA-1": [], "tus, 256 KB pieces each with SHA-1": []}
    pieces = {"tus, 1 MB pieces each with SHA-1": 1024 * 1024, "tus, 256 KB pieces each with SHA-1": 256 * 1024}
    try:
        # 1. Server CPU per case over loopback: one POST, the clients' one PATCH, pieces.
        base = f"http://127.0.0.1:{web.port}"
        # Unmeasured first: each worker's first requests import and connect what later ones reuse.
        warm = workdir / "warm"
        warm.mkdir()
        for number in range(2):
            path = film(warm, f"warm-{number}.dcm", args.mb, f"WARM-{number}")
            assert one_post(base, token, path, timeout=600).startswith("filed")
            forward.forward(film(warm, f"warm-tus-{number}.dcm", args.mb, f"WARM-T{number}"),
                            server=forward.Server(base, token), journal=forward.Journal(warm / "journal.json"),
                            clinic="", chunk_size=0, log=lambda message: None)
        for run in range(args.runs):
            for number, label in enumerate(cpu):
                loopback = workdir / f"cpu-{run}-{number}"
                loopback.mkdir()
                path = film(loopback, "film.dcm", args.mb, f"CPU-{run}-{number}")
                before = Case.objects.count()
                start = cpu_seconds(web.process.pid)
                if label == "one POST":
                    assert one_post(base, token, path, timeout=600).startswith("filed"), label
                else:
                    forward.forward(path, server=forward.Server(base, token),
                                    journal=forward.Journal(loopback / "journal.json"), clinic="",
                                    chunk_size=pieces.get(label, 0), log=lambda message: None)
                cpu[label].append(cpu_seconds(web.process.pid) - start)
                assert Case.objects.count() == before + 1, label
        write_section(*section, report())

        if not args.no_link:
            # 2. The plain upload through the link, cut once a quarter of the way.
            plain_dir = workdir / "plain"
            plain_dir.mkdir()
            plain_film = film(plain_dir, "plain.dcm", args.mb, "PLAIN-1")
            size = plain_film.stat().st_size
            link = Link(web.port, rate)
            schedule_drops(link, at=[size / rate / 4], seconds=args.drop_seconds)
            before = Case.objects.count()
            plain_outcome = one_post(f"http://127.0.0.1:{link.port}", token, plain_film, timeout=size / rate * 3)
            plain_cases = Case.objects.count() - before

            # 3. The forwarder through the link, with three drops spread over the transfer; nobody acts.
            folder = workdir / "export"
            folder.mkdir()
            film(folder, "film.dcm", args.mb, "LINK-1")
            link = Link(web.port, rate)
            transfer = size / rate
            schedule_drops(link, at=[transfer * 0.2, transfer * 0.45, transfer * 0.7], seconds=args.drop_seconds)
            started, before = time.monotonic(), Case.objects.count()
            code = subprocess.run(["/usr/bin/python3", "-I", str(ROOT / "bin" / "forward"), "--once", "--interval",
                                   "1", "--server", f"http://127.0.0.1:{link.port}", "--folder", str(folder)],
                                  env={"PATH": os.environ["PATH"], "CXR_FORWARD_TOKEN": token}).returncode
            elapsed = time.monotonic() - started
            rows_link = [
                ["plain one-POST upload", f"1 of {args.drop_seconds:g} s, at 25 %", plain_outcome, plain_cases,
                 "", "", "0"],
                ["bin/forward (tus, the film in one PATCH, SHA-256 checked at the end)",
                 f"3 of {args.drop_seconds:g} s, at 20/45/70 %", "filed" if code == 0 else f"exit {code}",
                 Case.objects.count() - before, f"{link.up_bytes / size:.3f}", f"{elapsed:.0f} s", "0"],
            ]
    finally:
        web.stop()

    body = report()
    write_section(*section, body)
    print(body)


if __name__ == "__main__":
    main()
