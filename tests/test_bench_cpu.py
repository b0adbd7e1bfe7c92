"""bench/cpu.py: its floor and in-process measurements give positive CPU figures on a tiny input, and
its section has a row for every figure and every target. No timing thresholds: a shared machine."""

import pytest

from bench import cpu, cpu_steps
from cases.models import Case
from classifier.artifacts import COMMITTED_MODEL
from cxrsite.testing.images import png_bytes
from cxrsite.testing.stack import permissive_gate

FILMS = [png_bytes(256, seed=seed) for seed in range(2)]


def positive(value) -> bool:
    return isinstance(value, float) and value > 0


def test_it_measures_the_plain_python_floor_of_an_upload(tmp_path):
    assert positive(cpu_steps.floor_ms(FILMS, tmp_path))


@pytest.mark.skipif(not COMMITTED_MODEL.exists(), reason="no committed model")
def test_it_measures_the_web_and_the_worker_in_process(client, staff, clinic, settings, tmp_path):
    settings.CXR_GATE_PATH = str(permissive_gate(tmp_path))
    client.force_login(staff)
    web = cpu_steps.web_in_process(client, FILMS, clinic=clinic.pk, name="bench")
    assert set(web) == set(cpu_steps.WEB_STEPS) and all(positive(value) for value in web.values())
    cpu_s, wall = cpu_steps.post_wall_and_cpu(client, FILMS, clinic=clinic.pk, name="down")
    assert positive(cpu_s) and positive(wall)
    # A test transaction never commits, so nothing was queued: queue the cases as on_commit would.
    Case.objects.update(status=Case.Status.QUEUED)
    assert positive(cpu_steps.worker_in_process(cpu.queued("bench")))
    assert Case.objects.filter(status=Case.Status.PREDICTED).count() == len(FILMS)


def test_the_section_has_every_figure_and_every_target():
    sizes = {str(size): {figure: [1.0, 2.0] for figure in cpu.FIGURES} for size in cpu.SIZES}
    results = {"sizes": sizes, "real_films": False, "broker down": {"CPU": [1.0], "wall": [2.0]},
               "worker RSS MB": 200.0}
    text = cpu.section({"SQLite": results}, runs=2, cases=4)
    for label in cpu.LABELS.values():
        assert f"| {label} |" in text
    for row in ("POST, 256 px, in-process", "POST, 256 px, gunicorn", "browser flow (form GET + POST + case page GET)",
                "worker per case, real worker, 256 px", "POST (gunicorn) / real worker, 4096 px",
                "POST wall with the broker down", "worker RSS, largest accepted film"):
        assert f"| {row}" in text
    assert "### SQLite" in text and "PostgreSQL: not measured" in text


def test_the_section_shows_the_code_before_beside_this_code_when_it_was_measured():
    sizes = {str(size): {figure: [1.0, 2.0] for figure in [*cpu.FIGURES, cpu.BEFORE]} for size in cpu.SIZES}
    sizes["2048"][cpu.BEFORE] = [4.0, 4.0]
    results = {"sizes": sizes, "real_films": False, "broker down": {"CPU": [1.0], "wall": [2.0]},
               "worker RSS MB": 200.0}
    text = cpu.section({"SQLite": results}, runs=2, cases=4, before="commit abc1234 the old worker")
    assert f"| {cpu.BEFORE_LABEL} |" in text and "commit abc1234 the old worker" in text
    [row] = [line for line in text.splitlines() if line.startswith("| worker per case, real worker, 2048 px")]
    assert "the code before (--before): 4 ms (x0.38)" in row
