"""Health checks shared by ``GET /health/`` and ``manage.py healthcheck``.

One module so the load balancer and the deploy playbook judge health by the
same rules. Two checks, one round trip each on a pooled connection, so
frequent probing opens no connections:

- ``database``: ``SELECT 1`` in the database probe thread (dbprobe.py), waited
  for at most ``DATABASE_TIMEOUT`` seconds — a hung server cannot hold the
  answer back;
- ``redis``: one ``SET`` with a short expiry through the app's Redis pool; a
  write, so a read-only replica, an out-of-memory Redis or a missing ACL
  permission fails it, and its bounded socket timeout and circuit breaker
  (redis_pool.py) bound the wait.

Both run concurrently (the database probe is already in its own thread), so
/health/ answers within about a second even when both backends hang.
Failures are logged with their traceback; callers only ever see "ok"/"error",
so nothing about the infrastructure leaks to the public.

``/health/`` is public, so a burst of probes must not become a burst of
Redis writes and database queries: each process reuses its last report for
``HEALTH_CACHE_SECONDS`` (``latest_report``), and while one request probes,
the others of that process wait for its answer instead of probing too. An
outage therefore shows as 503 at most that long (plus one probe) after it
began, and recovery as 200 likewise. ``manage.py healthcheck`` always
probes afresh.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django_redis import get_redis_connection

from .dbprobe import ProbeTimeout, database_prober
from .metrics import observe_check
from .redis_pool import CircuitOpenError

logger = logging.getLogger(__name__)

OK = "ok"
ERROR = "error"
PROBE_KEY_SUFFIX = "health"
PROBE_TTL_MS = 60_000
DATABASE_TIMEOUT = 1.0
CHECK_NAMES = ("database", "redis")


@dataclass
class HealthReport:
    checks: dict[str, str] = field(default_factory=dict)
    version: str = ""

    @property
    def healthy(self) -> bool:
        return all(status == OK for status in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": OK if self.healthy else ERROR,
            "checks": dict(self.checks),
            "version": self.version,
        }


def probe_key() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:{PROBE_KEY_SUFFIX}" if prefix else PROBE_KEY_SUFFIX


def check_redis() -> None:
    """``SET <prefix>:health <pid> PX 60000``: proves Redis answers and accepts writes."""
    get_redis_connection("default").set(probe_key(), os.getpid(), px=PROBE_TTL_MS)


def _record(report: HealthReport, name: str, error: BaseException | None, seconds: float) -> None:
    """The check's status in the report, its duration in the metrics, a failure in the log."""
    report.checks[name] = OK if error is None else ERROR
    observe_check(name, report.checks[name], seconds)
    if error is None:
        return
    if isinstance(error, CircuitOpenError | ProbeTimeout):
        # Expected outage shapes: one line, no traceback on every probe.
        logger.warning("health check %r failed: %s", name, error)
    else:
        logger.warning("health check %r failed", name, exc_info=error)


def run_checks() -> HealthReport:
    """Both checks at once: the database probe runs in its thread while Redis is asked here.

    Each check's time runs from its start to its answer (a hung database: until
    the wait gave up), which is what ``ahsp_health_check_duration_seconds`` records.
    """
    report = HealthReport(version=settings.APP_RELEASE)
    started = time.monotonic()
    deadline = started + DATABASE_TIMEOUT
    database_error: BaseException | None = None
    try:
        job = database_prober.start()
    except Exception as exc:  # the previous probe is still stuck
        job, database_error = None, exc
    try:
        check_redis()
        redis_error = None
    except Exception as exc:
        redis_error = exc
    redis_seconds = time.monotonic() - started
    if job is not None:
        try:
            database_prober.wait(job, max(0.0, deadline - time.monotonic()))
        except Exception as exc:
            database_error = exc
    database_end = job.finished if job is not None and job.finished else time.monotonic()
    _record(report, "database", database_error, database_end - started)
    _record(report, "redis", redis_error, redis_seconds)
    return report


class _ReportCache:
    """The last report of this process and when it stops being reused (monotonic clock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.report: HealthReport | None = None
        self.until = 0.0

    def clear(self) -> None:
        with self.lock:
            self.report, self.until = None, 0.0


_cache = _ReportCache()


def latest_report() -> HealthReport:
    """The report of a probe at most ``HEALTH_CACHE_SECONDS`` old; probes when there is none.

    The lock is held while probing, so concurrent requests of a process (gthread
    workers) wait for the one probe rather than all starting their own; the wait
    is bounded by the probe's own deadline.
    """
    seconds = float(settings.HEALTH_CACHE_SECONDS)
    if seconds <= 0:
        return run_checks()
    with _cache.lock:
        if _cache.report is None or time.monotonic() >= _cache.until:
            _cache.report = run_checks()
            # Counted from the end of the probe: a slow probe is not stale at once.
            _cache.until = time.monotonic() + seconds
        return _cache.report


def forget_latest_report() -> None:
    """Make the next ``latest_report`` probe afresh (tests, and after settings change)."""
    _cache.clear()
