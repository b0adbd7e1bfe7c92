"""gunicorn settings for every start of the web server: `make run` (bin/run), the pipeline
benchmark and production (`gunicorn -c cxrsite/gunicorn.conf.py --bind HOST:PORT cxrsite.wsgi`)."""

import os

# Threads, not one request per process: a slow client (an upload over a poor clinic link, or one
# trickled on purpose) holds one thread while the others serve. Two uploads at 10 bytes/s froze
# both sync workers, /healthz included. Processes still share the CPU-bound work (forms, image checks);
# 4 threads each, not more: every upload in progress holds its file and its pixels in memory.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# With gthread this bounds a hung worker process, not a request. Only a buffering reverse proxy
# (README) takes slow uploads off the threads altogether.
timeout = 60
# gunicorn 27's control interface is not used; without this it creates ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
