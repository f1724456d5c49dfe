"""Gunicorn settings for serving jiayi (`gunicorn jiayi.wsgi:application -c deploy/gunicorn.conf.py`).

Sizing. A page spends most of its time in Python (the ORM building queries and rows, templates), which
holds the GIL, and the rest waiting for PostgreSQL. So processes, not threads, use the cores: one worker
per core plus one, so that a core is never idle while a worker waits on the database; a few threads per
worker overlap those waits (and a slow page does not hold up the worker's other requests). More processes
than that only add context switches and memory, and more threads only queue on the GIL. On the 2-core
reference machine that is 3 workers × 4 threads: 12 requests in progress, 12 persistent database
connections (CONN_MAX_AGE keeps one per thread open between requests), far below PostgreSQL's 100.

Everything can be overridden from the environment (JIAYI_WEB_WORKERS, JIAYI_WEB_THREADS,
JIAYI_WEB_BIND) or on the command line.
"""

from __future__ import annotations

import os

bind = os.environ.get("JIAYI_WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("JIAYI_WEB_WORKERS") or (os.cpu_count() or 1) + 1)
threads = int(os.environ.get("JIAYI_WEB_THREADS") or 4)
# Connections waiting for a thread queue in the kernel rather than being refused.
backlog = 2048
# Browsers keep their connection open between the pages of a session.
keepalive = 5
# A request taking longer than this is stuck (the slowest pages answer in seconds); the worker restarts.
timeout = 60
graceful_timeout = 30
# Load the application once before forking: workers start at once and share its memory.
preload_app = True
# Recycle workers now and then, staggered, so slow growth of a worker's memory never builds up.
max_requests = 20_000
max_requests_jitter = 2_000
# Personal data must not reach the access log's query strings on disk; errors still go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("JIAYI_WEB_LOG_LEVEL", "warning")
