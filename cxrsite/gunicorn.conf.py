"""gunicorn settings for every start of the web server: `make run` (bin/run), the pipeline
benchmark and production (`gunicorn -c cxrsite/gunicorn.conf.py --bind HOST:PORT cxrsite.wsgi`)."""

import os

# Processes, not threads, by default: each request is CPU-bound Python (form, image checks).
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
# Requests are short; a slow upload from a clinic link is buffered by the reverse proxy (README).
timeout = 60
# gunicorn 27's control interface is not used; without this it creates ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
