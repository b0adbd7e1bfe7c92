"""`manage.py dicom_listener`: the DICOM Storage SCP, in the foreground (bin/run starts one)."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext

from cases.dicom import listener


class Command(BaseCommand):
    help = "Receive chest X-rays from the registered DICOM nodes (C-STORE, C-ECHO)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.CXR_DICOM_HOST)
        parser.add_argument("--port", type=int, default=settings.CXR_DICOM_PORT)
        parser.add_argument("--ae-title", default=settings.CXR_DICOM_AE_TITLE)

    def handle(self, *args, host, port, ae_title, **options):
        stop = threading.Event()
        # SIGTERM (bin/run, systemd) and Ctrl-C alike: stop accepting, then return.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        server = listener.start(host=host, port=port, ae_title=ae_title)
        self.stdout.write(gettext("DICOM listener %(ae_title)s on %(host)s:%(port)s") % {
            "ae_title": ae_title, "host": host, "port": port})
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            server.shutdown()
