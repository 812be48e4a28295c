"""A per-process circuit breaker: after a failure, skip the backend for a while.

Bounded socket timeouts alone still cost every request the full timeout while
a backend hangs; a worker serving a queue of requests would spend most of its
time waiting. The breaker turns the second and later calls during an outage
into an immediate error, and the callers' own policies (fail open, 503, "error"
in /health/) answer at once. After ``open_seconds`` exactly one call is let
through as a probe; its success closes the breaker, its failure re-opens it.

Redis-free and Django-free so the state machine can be tested on its own;
``redis_pool.py`` wires it into redis-py's connections and reports its moves
to the metrics (``on_change``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class CircuitOpen(Exception):
    """Raised instead of calling the backend while the breaker is open."""


class CircuitBreaker:
    """Closed → (failure) → open for ``open_seconds`` → one probe → closed or open again.

    ``probe_seconds`` bounds how long the single probe may take before another
    caller is allowed to probe (a probe that never reports back must not keep
    the breaker open forever). The closed path is one attribute read, so
    healthy traffic pays nothing for the breaker. ``on_change`` is told
    ``True`` when the breaker opens and ``False`` when a success closes it
    (not when the open period merely runs out: until a call succeeds the
    backend still counts as failed).
    """

    def __init__(
        self,
        name: str,
        open_seconds: float,
        probe_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.name = name
        self.open_seconds = open_seconds
        self.probe_seconds = probe_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        # 0.0 means closed; otherwise the clock reading until which calls are refused.
        self._blocked_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._blocked_until != 0.0 and self._clock() < self._blocked_until

    def before_call(self) -> None:
        """Return if the call may go ahead; raise CircuitOpen if it must be skipped."""
        if self._blocked_until == 0.0:
            return
        with self._lock:
            if self._blocked_until == 0.0:
                return
            now = self._clock()
            if now < self._blocked_until:
                raise CircuitOpen(f"{self.name} skipped after a recent failure")
            # Open period over: this caller is the probe; everyone else waits for it.
            self._blocked_until = now + self.probe_seconds

    def failed(self, reason: object = None) -> None:
        with self._lock:
            was_closed = self._blocked_until == 0.0
            self._blocked_until = self._clock() + self.open_seconds
        if was_closed:
            logger.warning(
                "%s failed (%s); skipping it for %.1f s", self.name, reason, self.open_seconds
            )
            self._report(True)

    def succeeded(self) -> None:
        if self._blocked_until == 0.0:
            return
        with self._lock:
            was_open = self._blocked_until != 0.0
            self._blocked_until = 0.0
        if was_open:
            logger.warning("%s answers again", self.name)
            self._report(False)

    def _report(self, is_open: bool) -> None:
        if self._on_change is not None:
            self._on_change(is_open)
