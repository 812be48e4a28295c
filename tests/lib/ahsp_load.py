"""A bounded HTTP load from the controller, for "zero failed requests" claims.

Runs while a playbook (or a restart) changes the hosts: requests go at a fixed
rate, spread over every URL, each on a new connection, and every answer is
recorded (status, latency, or the error). A failure is a 5xx, a refused or
reset connection, or a timeout. Bounded in rate, duration and request count,
and it only ever targets the project's own containers or loopback.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

MAX_SECONDS = 900.0
MAX_REQUESTS = 200_000


@dataclass(frozen=True)
class Answer:
    url: str
    started: float
    seconds: float
    status: int  # -1: no HTTP answer
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status < 0 or self.status >= 500


@dataclass
class Summary:
    """What a load saw: counts, failures (with their first examples) and latency percentiles."""

    answers: list[Answer] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.answers)

    @property
    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.failed]

    def statuses(self) -> Counter:
        return Counter(a.status for a in self.answers)

    def percentile(self, fraction: float) -> float:
        """Latency (seconds) below which `fraction` of the answered requests fall."""
        times = sorted(a.seconds for a in self.answers if a.status > 0)
        if not times:
            return float("nan")
        return times[min(len(times) - 1, int(fraction * len(times)))]

    def describe(self) -> str:
        first = "; ".join(f"{a.url} -> {a.status} {a.error}" for a in self.failures[:5])
        text = (
            f"{self.sent} requests, {len(self.failures)} failed, statuses {dict(self.statuses())},"
            f" p99 {self.percentile(0.99) * 1000:.1f} ms"
        )
        return f"{text}; first failures: {first}" if first else text


def request(url: str, headers: dict[str, str], timeout: float) -> Answer:
    parts = urllib.parse.urlsplit(url)
    start = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        response.read()
        return Answer(url, start, time.monotonic() - start, response.status)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(url, start, time.monotonic() - start, -1, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


class Load:
    """`with Load(urls, rate=60) as load: ...` then `load.summary`.

    Requests start at `rate` per second in all (round-robin over `urls`) on a
    pool of `workers` threads, until the block ends or `max_seconds` pass.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        rate: float = 60.0,
        host_header: str = "localhost",
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        workers: int = 32,
        max_seconds: float = 600.0,
    ) -> None:
        if not urls or rate <= 0:
            raise ValueError("Load needs URLs and a positive rate")
        self.urls, self.rate, self.timeout = list(urls), rate, timeout
        self.headers = {"Host": host_header, **(headers or {})}
        self.max_seconds = min(max_seconds, MAX_SECONDS)
        self.summary = Summary()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers)
        self._futures: list = []
        self._thread = threading.Thread(target=self._pace, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pace(self) -> None:
        start = time.monotonic()
        n = 0
        while not self._stop.is_set() and n < MAX_REQUESTS:
            due = start + n / self.rate
            now = time.monotonic()
            if now - start > self.max_seconds:
                break
            if due > now:
                self._stop.wait(due - now)
                continue
            url = self.urls[n % len(self.urls)]
            self._futures.append(self._pool.submit(request, url, self.headers, self.timeout))
            n += 1

    def stop(self) -> Summary:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)
        self._pool.shutdown(wait=True)
        self.summary.answers = [f.result() for f in self._futures]
        return self.summary
