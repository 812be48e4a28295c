"""gunicorn server hooks that keep the metrics of many workers exact; they run in the master.

With several workers each process counts on its own. prometheus_client's
multiprocess mode has every worker write its counts to files in
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` sums all the files, so one
scrape answers for every worker, including workers that have exited since
(recycled by ``max_requests``, replaced by a reload): their counters stay.
What has to go with a dead worker is its share of the live gauges (Redis
breaker open), or a worker that died with an open breaker would report it
forever; ``child_exit`` removes that share.

The directory must start empty with each service start: a counter that
carried counts over from a previous master would never show a reset, and a
dead master's live-gauge files would never be removed. ``on_starting``
empties it; a reload (HUP) does not, so counts survive reloads.

gunicorn's config sets ``PROMETHEUS_MULTIPROC_DIR`` in its own environment
before any worker starts (the workers inherit it; ``config/env.py`` reads it
from the process environment only) and calls these two hooks. They run in
the master, which keeps the copy of this module it first imported until the
service restarts, so it imports no Django and nothing else of the app, and
prometheus_client only when a worker exits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client's files: <kind>_<pid>.db; nothing else in the directory is touched.
_METRIC_FILES = "*.db"


def _directory() -> Path | None:
    path = os.environ.get(MULTIPROC_VARIABLE, "")
    return Path(path) if path else None


def empty_metrics_dir(directory: Path) -> None:
    """Create ``directory`` (service user only) or remove the metric files left in it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for leftover in directory.glob(_METRIC_FILES):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def on_starting(server: Any) -> None:
    """gunicorn ``on_starting``: once per service start, before the first worker."""
    directory = _directory()
    if directory is not None:
        empty_metrics_dir(directory)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit``: a worker is gone; its counters stay, its live gauges go.

    It runs in the master's main loop, where an exception stops the whole
    server: a file that cannot be removed costs a stale gauge and a log line,
    never the service.
    """
    directory = _directory()
    if directory is None:
        return
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(worker.pid, str(directory))
    except OSError as exc:
        server.log.warning("metrics: live gauges of worker %s not removed: %s", worker.pid, exc)
