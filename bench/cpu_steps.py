"""The measuring steps of bench/cpu.py: the films, the plain-Python floor of one upload, and the CPU
per case of the web and the worker, in this process (time.process_time) or in another (/proc)."""

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bench.pipeline import DATASET, descendants, upload

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
WEB_STEPS = ("form GET", "POST", "case page GET")


def films(size: int, count: int) -> tuple[list[bytes], bool]:
    """`count` PNG films of `size` px, and whether they are real: the dataset's at 256 px when it is
    here, else synthetic (`chest_like_array`, upscaled with np.kron above 256 px)."""
    from cxrsite.testing.images import chest_like_array, encode

    real = sorted(DATASET.glob("*/*.png"))[::53][:count] if size == 256 else []
    if real:
        return [path.read_bytes() for path in real], True
    factor = max(1, size // 256)
    block = np.ones((factor, factor), dtype=np.uint8)
    return [encode(np.kron(chest_like_array(size // factor, seed=seed), block)) for seed in range(count)], False


def floor_ms(data: list[bytes], workdir: Path) -> float:
    """CPU ms per upload of the same steps without Django: decode, sha256, the display copy, two file
    writes and one INSERT."""
    from cases.intake.display import display_png
    from classifier.imaging import decode_image

    database = sqlite3.connect(workdir / "floor.sqlite3")
    database.execute("CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY, original TEXT, display TEXT,"
                     " sha256 TEXT, width INTEGER, height INTEGER)")
    started = time.process_time()
    for i, film in enumerate(data):
        image = decode_image(film)
        digest = hashlib.sha256(film).hexdigest()
        names = [workdir / f"floor-{i}.png", workdir / f"floor-{i}-display.png"]
        for name, body in zip(names, (film, display_png(image, film))):
            with open(name, "wb") as handle:
                handle.write(body)
        database.execute("INSERT INTO upload (original, display, sha256, width, height) VALUES (?, ?, ?, ?, ?)",
                         (str(names[0]), str(names[1]), digest, image.width, image.height))
        database.commit()
    elapsed = time.process_time() - started
    database.close()
    return elapsed / len(data) * 1000


def case_form(clinic: int, mrn: str, film: bytes) -> dict:
    return {"clinic": clinic, "mrn": mrn, "age": "50", "sex": "U", "view": "PA",
            "image": SimpleUploadedFile("chest.png", film, content_type="image/png")}


def web_in_process(client, data: list[bytes], *, clinic: int, name: str) -> dict[str, float]:
    """CPU ms per case of each step of the browser flow through the Django test client, in this process."""
    spent = dict.fromkeys(WEB_STEPS, 0.0)
    for i, film in enumerate(data):
        started = time.process_time()
        assert client.get(reverse("cases:case_new")).status_code == 200
        posted = time.process_time()
        response = client.post(reverse("cases:case_new"), case_form(clinic, f"{name}-{i}", film))
        assert response.status_code == 302, f"upload failed: {response.status_code}"
        shown = time.process_time()
        assert client.get(response["Location"]).status_code == 200
        for step, (start, end) in zip(WEB_STEPS, [(started, posted), (posted, shown), (shown, time.process_time())]):
            spent[step] += end - start
    return {step: seconds / len(data) * 1000 for step, seconds in spent.items()}


def post_wall_and_cpu(client, data: list[bytes], *, clinic: int, name: str) -> tuple[float, float]:
    """(CPU ms, wall ms) per POST through the test client."""
    cpu = wall = 0.0
    for i, film in enumerate(data):
        form = case_form(clinic, f"{name}-{i}", film)
        started, clock = time.process_time(), time.perf_counter()
        assert client.post(reverse("cases:case_new"), form).status_code == 302
        cpu, wall = cpu + time.process_time() - started, wall + time.perf_counter() - clock
    return cpu / len(data) * 1000, wall / len(data) * 1000


def worker_in_process(case_ids: list[int]) -> float:
    """CPU ms per case of `classify_case` on queued cases, in this process."""
    from cases.classification.services import Outcome, classify_case

    started = time.process_time()
    for case_id in case_ids:
        assert classify_case(case_id, worker_host="bench") == Outcome.PREDICTED
    return (time.process_time() - started) / len(case_ids) * 1000


def drawing_before_issue_31_ms(case_ids: list[int]) -> float:
    """CPU ms per case of the step issue 31 took out of the worker, on cases it has just classified:
    the class map resized to the film, blended over it in colour, encoded as an RGB PNG and written
    (what the worker did before; now made only for a DICOM result or a printed report)."""
    from cases import storage
    from cases.classification.images import composite_png, read_class_map
    from cases.models import Prediction
    from classifier.preprocessing import load_grayscale

    spent = 0.0
    drawn = Prediction.objects.filter(case_id__in=case_ids).exclude(heatmap_name="").select_related("case")
    for prediction in drawn:
        with storage.open_file(prediction.case.display_name) as film:
            pixels = load_grayscale(film.read())
        with storage.open_file(prediction.heatmap_name) as heat:
            class_map = read_class_map(heat.read())
        started = time.process_time()
        name = storage.save_bytes(composite_png(pixels, class_map), ".png")
        spent += time.process_time() - started
        storage.delete(name)
    return spent / len(drawn) * 1000


def cpu_ms(pids: list[int]) -> float:
    """utime + stime of the processes, and of their children that have exited, in ms (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(value) for value in fields[11:15])  # fields 14-17: utime stime cutime cstime
    return total * TICK_MS


def tree_cpu_ms(pid: int) -> float:
    return cpu_ms([pid, *descendants(pid)])


def web_over_http(web, worker, data: list[bytes], *, name: str) -> dict[str, float]:
    """CPU ms per case of each step through gunicorn (its worker processes, before/after a batch of each
    step), and of the Celery worker's process tree from the first upload to the last prediction."""
    from cases.models import Case

    session, lock, gunicorn = web.session(), threading.Lock(), descendants(web.process.pid)

    def batch(request) -> float:
        before = cpu_ms(gunicorn)
        for i, film in enumerate(data):
            request(i, film)
        return (cpu_ms(gunicorn) - before) / len(data)

    figures = {"form GET": batch(lambda i, film: session.get(f"{web.base}/cases/new/").raise_for_status())}
    worker_before = tree_cpu_ms(worker.process.pid)
    figures["POST"] = batch(lambda i, film: upload(web, session, lock, film, f"{name}-{i}"))
    pages = [f"{web.base}/cases/{case.public_id}/"
             for case in Case.objects.filter(patient__mrn__startswith=f"{name}-").order_by("pk")]
    figures["case page GET"] = batch(lambda i, film: session.get(pages[i]).raise_for_status())
    wait_until_predicted(name, len(data))
    figures["real worker"] = (tree_cpu_ms(worker.process.pid) - worker_before) / len(data)
    return figures


def wait_until_predicted(name: str, count: int) -> None:
    from cases.models import Case
    from cxrsite.testing.stack import wait_for

    cases = Case.objects.filter(patient__mrn__startswith=f"{name}-")
    wait_for(lambda: cases.filter(status=Case.Status.PREDICTED).count() == count, timeout=600, interval=0.2,
             what=f"{count} predictions ({name})")
