"""The HTTP section assembled from its runs: paired ratios, CPU ratio, /health/'s connections."""

from __future__ import annotations

import itertools
from typing import Any

import httpload
import pytest
import throughput
from httpload import WrkRun

# req/s per round and path: the rate-limited view at 90% then 80% then 85%.
RPS = {"/health/live/": [1000.0, 800.0, 1200.0], "/api/test/": [900.0, 640.0, 1020.0]}


class FakeRedis:
    """INFO stats whose connection counter grows by 2 every time it is read."""

    def __init__(self) -> None:
        self.counter = itertools.count(100, 2)

    def info(self, section: str) -> dict[str, Any]:
        assert section == "stats"
        return {"total_connections_received": next(self.counter)}


@pytest.fixture
def fake_loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """wrk and the journal replaced: every run of a path in turn; each boot count read is +1."""
    runs: list[tuple[str, int]] = []
    served = {path: iter(values * 2) for path, values in RPS.items()}
    boots = itertools.count(7)

    def fake_wrk(address: str, host: str, path: str, *, seconds: int, threads: int, **kw: Any):
        runs.append((path, threads))
        rps = next(served[path]) if seconds > 2 and path in served else 500.0
        cpu = {"bench-app1": 1000.0 if path == "/health/live/" else 1100.0, "wrk": 100.0}
        return WrkRun(int(rps), 1.0, rps, 2.0, 3.0, 4.0, 2.5, {}, cpu)

    monkeypatch.setattr(httpload, "wrk", fake_wrk)
    monkeypatch.setattr(throughput, "worker_boots", lambda host: next(boots))
    monkeypatch.setattr(throughput, "ROUNDS", 3)
    monkeypatch.setattr(throughput, "ONE_AT_A_TIME_ROUNDS", 1)
    return runs


def test_the_http_section_from_its_runs(fake_loads: list[tuple[str, int]]) -> None:
    figures = throughput.measure(FakeRedis(), "127.0.0.1", "bench-app1")  # type: ignore[arg-type]
    assert figures.limited_vs_bare_throughput == 0.85  # median of 0.9, 0.8, 0.85
    assert figures.limited_vs_bare_cpu == round(1000 / 1100, 3)
    assert (figures.bare.requests_per_second, figures.rate_limited.requests_per_second) == (
        1000.0,
        900.0,
    )
    c = figures.health_redis_connections
    # Three /health/ runs, each between two counter reads 2 apart, and one boot each.
    assert (c.runs, c.new_connections, c.worker_boots, c.requests) == (3, 6, 3, 1500)
    assert c.per_request == round(6 / 1500, 5)
    # Read before the loads, around each /health/ run, and after the one-at-a-time runs.
    assert figures.worker_boots_during_http == 7
    assert [threads for _, threads in fake_loads[-2:]] == [1, 1]
    assert figures.one_at_a_time.rounds == 1


def test_the_cpu_ratio_is_left_out_when_the_cgroups_are_unknown() -> None:
    run = WrkRun(10, 1.0, 10.0, 1.0, 2.0, 3.0, 1.5, {})
    series = httpload.WrkSeries("x", "/x", 2, 16, [run])
    assert throughput.cpu_ratio(series, series) is None
