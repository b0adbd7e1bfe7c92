"""`manage.py web_proxy_config`: the nginx configuration that `make run` puts in front of gunicorn.

bin/run writes it to the data folder and starts nginx with it. For production it is a starting
point: add TLS and the server name, keep the buffering, the body limit and X-Real-IP. It also writes
`413.html` into --folder: the page nginx answers an upload far over the limit with (Django never
sees that one, so cannot give the form's message).
"""

import getpass
import os
from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

TEMPLATE = settings.BASE_DIR / "cxrsite" / "nginx.conf"
BODY_MARGIN = 1024 * 1024  # the form's other fields and the multipart framing around the file


class Command(BaseCommand):
    help = "Print the nginx configuration that buffers requests for gunicorn (bin/run starts it)."

    def add_arguments(self, parser):
        parser.add_argument("--listen", required=True, help="address:port nginx serves, e.g. 127.0.0.1:8000")
        parser.add_argument("--socket", required=True, help="gunicorn's Unix socket")
        parser.add_argument("--folder", required=True, help="nginx's pid file and temporary files")

    def handle(self, *args, listen, socket, folder, **options):
        page = render_to_string("413.html", {"limit": settings.CXR_UPLOAD_MAX_BYTES})
        (Path(folder) / "413.html").write_text(page)
        # As root, nginx would run its workers as nobody, who cannot open the private data folder.
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        self.stdout.write(Template(TEMPLATE.read_text()).substitute(
            listen=listen, socket=socket, folder=folder, user=user,
            max_body=settings.CXR_UPLOAD_MAX_BYTES + BODY_MARGIN))
