"""A database probe that answers within a deadline even when the server hangs.

A stopped or wedged PostgreSQL still has a kernel that accepts and
acknowledges TCP, so a query on an open connection can wait forever and no
libpq timeout fires. Only the caller can bound that wait. The probe therefore
runs in one long-lived daemon thread per process, which keeps its own
persistent connection (Django connections are per thread); the caller waits
for the result at most ``timeout`` seconds. While a previous probe is still
stuck, a new one reports failure at once instead of queueing behind it, so a
hung database costs ``/health/`` one timeout per process, then nothing.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections

logger = logging.getLogger(__name__)


class ProbeTimeout(Exception):
    """The probe did not finish in time (or an earlier one is still stuck)."""


@dataclass
class _Job:
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    # Monotonic clock when the check returned; 0.0 while it has not.
    finished: float = 0.0


class _ProbeConnection(threading.local):
    """Whether this thread's connection has answered before (then a failure may be stale)."""

    answered = False


_probe_connection = _ProbeConnection()


def _select(alias: str) -> None:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        _probe_connection.answered = False
        connection.close()  # the next attempt reconnects instead of reusing a broken session
        raise
    _probe_connection.answered = True


def select_one(alias: str = "default") -> None:
    """``SELECT 1`` on this thread's connection, kept open across probes (no CONN_MAX_AGE:
    probing must not open connections). A session that died with a database
    restart fails at once; it is replaced and tried once more, so a restart
    does not show up as a failed probe. A hung server never returns here at all.
    """
    reused = _probe_connection.answered
    try:
        _select(alias)
    except Exception:
        if not reused:
            raise
        _select(alias)


class Prober:
    """Runs ``check`` in a dedicated thread; ``run(timeout)`` raises if it fails or overruns."""

    def __init__(self, check: Callable[[], None], name: str) -> None:
        self._check = check
        self._name = name
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job] = queue.Queue(maxsize=1)
        self._busy = False
        self._pid = 0

    def _ensure_thread(self) -> None:
        """Start the worker thread in this process (a forked worker does not inherit it)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._busy = False
            self._jobs = queue.Queue(maxsize=1)
            threading.Thread(target=self._serve, name=self._name, daemon=True).start()

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            try:
                self._check()
            except BaseException as exc:  # reported to the caller, never kills the thread
                job.error = exc
            finally:
                job.finished = time.monotonic()
                with self._lock:
                    self._busy = False
                job.done.set()

    def start(self) -> _Job:
        """Hand one probe to the thread; raise ProbeTimeout at once if the last one is stuck."""
        with self._lock:
            self._ensure_thread()
            if self._busy:
                raise ProbeTimeout(f"{self._name}: the previous probe has not finished")
            self._busy = True
            job = _Job()
            self._jobs.put_nowait(job)
        return job

    @staticmethod
    def wait(job: _Job, timeout: float) -> None:
        if not job.done.wait(timeout):
            raise ProbeTimeout(f"no answer within {timeout:.1f} s")
        if job.error is not None:
            raise job.error

    def run(self, timeout: float) -> None:
        self.wait(self.start(), timeout)


database_prober = Prober(select_one, "database-probe")
