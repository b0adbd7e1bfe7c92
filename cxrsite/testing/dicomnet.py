"""Real DICOM peers for tests and benchmarks: our listener as `manage.py dicom_listener` runs it,
Orthanc as the PACS, and dcmtk's storescu as the X-ray unit.

    listener = Listener(stack.config).start()      # on a free loopback port, the stack's database
    with running_orthanc(tmp_path) as pacs: ...     # pacs.instances(), pacs.stop(), pacs.start()
    send_with_storescu(files, port=listener.port, calling="XRAY1")
    validation_findings(pacs.file(instance_id))        # dciodvfy's errors and warnings about an object

Every process runs in its own process group and is stopped at exit; every wait is bounded.
"""

import json
import socket
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from .stack import BASE_DIR, WorkerConfig, free_port, stop_group, wait_for

ORTHANC = "/usr/sbin/Orthanc"
STORESCU = "/usr/bin/storescu"
DCIODVFY = "/usr/bin/dciodvfy"  # dicom3tools: checks an object against its IOD's modules
LISTENER_AE = "CXRTRIAGE"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    """A child in its own process group, logging to a file; stop() is SIGTERM, then SIGKILL."""

    def __init__(self, command: list[str], *, log_path: Path, env: dict | None = None):
        self.command, self.log_path, self.env = command, log_path, env
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, cwd=BASE_DIR, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.command[0]} exited; log:\n{self.log()}")
        return True

    def stop(self) -> None:
        stop_group(self.process, timeout=15)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Listener(Process):
    """`manage.py dicom_listener` on a free port, with the worker's database, broker and storage."""

    def __init__(self, config: WorkerConfig, *, port: int | None = None):
        self.port = port or free_port()
        super().__init__([sys.executable, "manage.py", "dicom_listener", "--port", str(self.port)],
                         log_path=config.data_dir / f"listener-{self.port}.log", env=config.env())

    def start(self) -> "Listener":
        self.spawn()
        wait_for(lambda: self.alive() and port_open(self.port), timeout=30, what=f"listener on {self.port}")
        return self


class Orthanc(Process):
    """Orthanc with its own configuration: loopback only, no authentication, a private store."""

    def __init__(self, directory: Path, *, ae_title: str = "PACS"):
        self.directory, self.ae_title = directory, ae_title
        self.dicom_port, self.http_port = free_port(), free_port()
        config = directory / "orthanc.json"
        config.write_text(json.dumps({
            "Name": "test-pacs", "DicomAet": ae_title, "DicomPort": self.dicom_port, "HttpPort": self.http_port,
            "StorageDirectory": str(directory / "storage"), "IndexDirectory": str(directory / "index"),
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True, "Plugins": [], "HttpsCACertificates": "", "StableAge": 1,
        }))
        super().__init__([ORTHANC, str(config)], log_path=directory / "orthanc.log")

    def start(self) -> "Orthanc":
        self.spawn()
        wait_for(lambda: self.alive() and self._answers(), timeout=30, what="Orthanc")
        return self

    def _answers(self) -> bool:
        try:
            self.get("/system")
            return True
        except OSError:
            return False

    def get(self, path: str):
        return json.loads(self.get_bytes(path))

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as response:
            return response.read()

    def instances(self) -> list[dict]:
        """Every stored instance's simplified tags."""
        return [self.get(f"/instances/{id_}/simplified-tags") for id_ in self.get("/instances")]

    def series(self) -> list[dict]:
        """Every stored series as Orthanc indexes it: its main tags (modality, number, description)
        and the ids of its instances."""
        return [self.get(f"/series/{id_}") for id_ in self.get("/series")]

    def file(self, instance_id: str) -> bytes:
        """The stored instance as a DICOM file, as a viewer would fetch it."""
        return self.get_bytes(f"/instances/{instance_id}/file")


@contextmanager
def running_orthanc(directory: Path, **kwargs):
    directory.mkdir(parents=True, exist_ok=True)
    orthanc = Orthanc(directory, **kwargs)
    try:
        yield orthanc.start()
    finally:
        orthanc.stop()


def send_with_storescu(files: list[Path], *, port: int, calling: str, called: str = LISTENER_AE,
                       options: tuple[str, ...] = (), timeout: float = 60) -> subprocess.CompletedProcess:
    """dcmtk's storescu as an X-ray unit sends: one association, every file. Without options it
    proposes the uncompressed syntaxes (and converts to them); `("-xy",)` proposes JPEG baseline first (storescu(1))."""
    command = [STORESCU, "-v", *options, "-aet", calling, "-aec", called, "127.0.0.1", str(port), *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def validation_findings(data: bytes) -> list[str]:
    """The errors and warnings dciodvfy reports for a DICOM file (empty: it conforms to its IOD)."""
    with tempfile.NamedTemporaryFile(suffix=".dcm") as file:
        file.write(data)
        file.flush()
        report = subprocess.run([DCIODVFY, file.name], capture_output=True, text=True, timeout=60)
    return [line for line in (report.stdout + report.stderr).splitlines() if line.startswith(("Error", "Warning"))]
