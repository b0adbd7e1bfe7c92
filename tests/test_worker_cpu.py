"""The worker's cheaper path per case (issue 31): it decodes the film straight into what the gate and the model
shrink, with no copy of the whole film into an array, and reads the database only for what it writes.
The stored prediction is the one the array path gives, to the last bit."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import storage
from cases.classification.images import class_map_png
from cases.classification.services import classify_case
from cases.classification.trials import start_trials
from cases.intake.display import display_png
from cases.models import Case, Prediction
from classifier import gate, inference
from classifier.artifacts import COMMITTED_MODEL
from classifier.imaging import decode_image
from classifier.preprocessing import load_grayscale, load_picture
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, encode
from cxrsite.testing.stack import permissive_gate
from tests.factories import make_case


def blocks(side: int, seed: int) -> np.ndarray:
    """A side x side film made of the blocks of a 256 px one, as bench/cpu.py makes its large films."""
    factor = side // 256
    return np.kron(chest_like_array(256, seed=seed), np.ones((factor, factor), dtype=np.uint8))


def display_copy(data: bytes) -> bytes:
    """What the worker reads: the display copy the web stores for an upload."""
    return display_png(decode_image(data), data)


FILMS = {
    "2048 px PNG, kept as sent": lambda: display_copy(encode(blocks(2048, seed=1))),
    "4096 px PNG, shrunk by the web": lambda: display_copy(encode(blocks(4096, seed=2))),
    "JPEG": lambda: display_copy(encode(chest_like_array(300, seed=3), "JPEG")),
    "colour PNG": lambda: encode(chest_like_array(300, seed=4), "PNG", "RGB"),
    "16-bit PNG": lambda: encode(chest_like_array(300, seed=5).astype(np.uint16) * 200),
    "DICOM": lambda: dicom_bytes(chest_like_array(300, seed=6)),
}


@pytest.mark.parametrize("film", FILMS)
def test_a_picture_holds_the_pixels_an_array_holds(film):
    data = FILMS[film]()
    assert np.array_equal(np.asarray(load_picture(data)), load_grayscale(data))


@pytest.fixture
def served(settings, tmp_path):
    settings.CXR_MODEL_PATH, settings.CXR_GATE_PATH = str(COMMITTED_MODEL), str(permissive_gate(tmp_path))
    return settings


@pytest.mark.parametrize("film", ["2048 px PNG, kept as sent", "4096 px PNG, shrunk by the web", "JPEG"])
def test_the_worker_stores_exactly_the_prediction_the_array_path_gives(served, clinic, staff, film):
    data = FILMS[film]()
    case = make_case(clinic, staff, status=Case.Status.QUEUED)
    Case.objects.filter(pk=case.pk).update(display_name=storage.save_bytes(data, ".png"))

    assert classify_case(case.pk, worker_host="worker-1") == "predicted"

    pixels = load_grayscale(data)  # the worker's path until issue 31's CPU work
    verdict = gate.check(pixels, gate_path=served.CXR_GATE_PATH)
    result = inference.classify(pixels, model_path=COMMITTED_MODEL)
    prediction = Prediction.objects.get(case=case)
    assert prediction.probabilities == result.probabilities and prediction.label == result.label
    assert (prediction.gate_passed, prediction.gate_scores) == (verdict.passed, verdict.scores)
    assert storage.path_of(prediction.heatmap_name).read_bytes() == class_map_png(result.class_map)
    assert prediction.inference_ms > 0


def test_a_case_costs_the_worker_one_query_for_trials_when_none_is_on(served, clinic, staff):
    case = make_case(clinic, staff, status=Case.Status.QUEUED)
    assert classify_case(case.pk, worker_host="worker-1") == "predicted"
    with CaptureQueriesContext(connection) as queries:
        assert start_trials(case.pk) == 0
    assert len(queries) == 1


def test_writing_a_prediction_reads_the_clinics_live_state_once(served, clinic, staff):
    case = make_case(clinic, staff, status=Case.Status.QUEUED)
    with CaptureQueriesContext(connection) as queries:
        assert classify_case(case.pk, worker_host="worker-1") == "predicted"
    assert len([query for query in queries if 'FROM "cases_clinicaistate"' in query["sql"]]) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_its_database_connection_from_one_task_to_the_next(tmp_path):
    from cases import queue
    from cxrsite.testing.stack import running_stack, wait_for
    from tests.worker_probe import DATABASE_CONNECTION_TASK

    used = tmp_path / "connections.txt"
    with running_stack(include=("tests.worker_probe",)):
        for count in (1, 2, 3):
            assert queue.publish(DATABASE_CONNECTION_TASK, str(used))
            wait_for(lambda: used.exists() and len(used.read_text().split()) == count, timeout=30, interval=0.1,
                     what=f"task {count} to report its connection")
    first, *others = used.read_text().split()
    assert others == [first, first]  # one process, one connection: not a new one per task
