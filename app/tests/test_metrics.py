"""Metrics in one process: labels, limiter decisions, breaker, health checks, who may scrape.

The exact sums across gunicorn workers are in test_metrics_gunicorn.py.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from detail_project.breaker import CircuitBreaker
from detail_project.health import run_checks
from detail_project.metrics import breaker_observer, method_label, status_class
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from tests.conftest import caches_for

SCRAPER = "192.0.2.10"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def responses(view: str, method: str = "GET", status: str = "2xx") -> float:
    return sample("ahsp_http_requests_total", view=view, method=method, status=status)


def decisions(decision: str) -> float:
    return sample("ahsp_ratelimit_decisions_total", endpoint="api_test", decision=decision)


@pytest.mark.parametrize(
    ("status", "label"), [(200, "2xx"), (204, "2xx"), (301, "3xx"), (404, "4xx"), (503, "5xx")]
)
def test_status_class(status: int, label: str) -> None:
    assert status_class(status) == label


def test_methods_a_client_invents_share_one_label() -> None:
    assert [method_label(m) for m in ("GET", "POST", "BREW", "get", None)] == [
        "GET", "POST", "other", "other", "other",
    ]  # fmt: skip


def test_requests_are_counted_by_url_name_never_by_path(client: Client) -> None:
    before = {
        "live": responses("live"),
        "unresolved": responses("unresolved", status="4xx"),
        "other": responses("live", method="other", status="4xx"),
    }
    client.get("/health/live/")
    client.get("/no/such/page/12345")
    client.generic("BREW", "/health/live/")
    assert responses("live") == before["live"] + 1
    assert responses("unresolved", status="4xx") == before["unresolved"] + 1
    assert responses("live", method="other", status="4xx") == before["other"] + 1
    paths = [s.labels.get("view", "") for m in REGISTRY.collect() for s in m.samples]
    assert not any("/" in view for view in paths)


def test_request_latency_is_observed(client: Client) -> None:
    name = "ahsp_http_request_duration_seconds_count"
    before = sample(name, view="live", method="GET")
    client.get("/health/live/")
    assert sample(name, view="live", method="GET") == before + 1


@override_settings(RATELIMIT_REQUESTS=2)
def test_limiter_decisions_are_counted(client: Client) -> None:
    before = {d: decisions(d) for d in ("allowed", "limited", "unavailable")}
    statuses = [client.get("/api/test/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert decisions("allowed") == before["allowed"] + 2
    assert decisions("limited") == before["limited"] + 1
    assert decisions("unavailable") == before["unavailable"]


@override_settings(RATELIMIT_FAIL_OPEN=False)
def test_an_unavailable_limiter_is_counted(client: Client, dead_redis_url: str) -> None:
    before = decisions("unavailable")
    with override_settings(CACHES=caches_for(dead_redis_url, None)):
        assert client.get("/api/test/").status_code == 503
    assert decisions("unavailable") == before + 1


def test_the_breaker_gauge_follows_its_state() -> None:
    clock = [0.0]
    breaker = CircuitBreaker(
        "metrics-test", open_seconds=5, probe_seconds=1,
        clock=lambda: clock[0], on_change=breaker_observer("metrics-test"),
    )  # fmt: skip

    def state() -> tuple[float, float, float]:
        return (
            sample("ahsp_redis_breaker_open", breaker="metrics-test"),
            sample("ahsp_redis_breaker_transitions_total", breaker="metrics-test", state="open"),
            sample("ahsp_redis_breaker_transitions_total", breaker="metrics-test", state="closed"),
        )

    assert state() == (0, 0, 0)
    breaker.failed("refused")
    breaker.failed("refused again")  # already open: no second transition
    assert state() == (1, 1, 0)
    clock[0] = 6.0  # the open period ran out; still failed until a call succeeds
    assert state() == (1, 1, 0)
    breaker.succeeded()
    breaker.succeeded()
    assert state() == (0, 1, 1)


@pytest.mark.django_db
def test_health_checks_are_timed(dead_redis_url: str) -> None:
    name = "ahsp_health_check_duration_seconds_count"
    before = (sample(name, check="database", status="ok"), sample(name, check="redis", status="ok"))
    run_checks()
    after = (sample(name, check="database", status="ok"), sample(name, check="redis", status="ok"))
    assert after == (before[0] + 1, before[1] + 1)
    failed = sample(name, check="redis", status="error")
    with override_settings(CACHES=caches_for(dead_redis_url, None)):
        assert run_checks().checks["redis"] == "error"
    assert sample(name, check="redis", status="error") == failed + 1


def scrape(client: Client, peer: str, **extra: Any) -> int:
    return client.get("/metrics", REMOTE_ADDR=peer, **extra).status_code


def test_nobody_may_scrape_by_default(client: Client) -> None:
    assert scrape(client, "127.0.0.1") == 404


@override_settings(METRICS_ALLOWED_NETWORKS=[f"{SCRAPER}/32", "2001:db8:5::/48"])
def test_only_peers_in_the_allowed_networks_may_scrape(client: Client) -> None:
    reply = client.get("/metrics", REMOTE_ADDR=SCRAPER)
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/plain")
    assert b"ahsp_http_requests_total" in reply.content
    assert scrape(client, f"::ffff:{SCRAPER}") == 200
    assert scrape(client, "2001:db8:5:1::7") == 200
    assert scrape(client, "192.0.2.11") == 404
    assert scrape(client, "not an address") == 404
    assert client.post("/metrics", REMOTE_ADDR="192.0.2.11").status_code == 404
    assert client.post("/metrics", REMOTE_ADDR=SCRAPER).status_code == 405


@override_settings(METRICS_ALLOWED_NETWORKS=[SCRAPER], TRUSTED_PROXIES=["10.0.0.2"])
def test_a_forwarded_address_never_opens_the_metrics(client: Client) -> None:
    """Through the front, the peer is the front: refused, whatever X-Forwarded-For says."""
    assert scrape(client, "10.0.0.2", HTTP_X_FORWARDED_FOR=SCRAPER) == 404
    assert scrape(client, "203.0.113.9", HTTP_X_FORWARDED_FOR=SCRAPER) == 404


@override_settings(METRICS_ALLOWED_NETWORKS=[SCRAPER], SECURE_SSL_REDIRECT=True)
def test_scrapes_are_not_redirected_to_https(client: Client) -> None:
    assert scrape(client, SCRAPER) == 200


@override_settings(METRICS_ALLOWED_NETWORKS=[SCRAPER])
def test_openmetrics_when_the_scraper_asks(client: Client) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    reply = client.get("/metrics", REMOTE_ADDR=SCRAPER, HTTP_ACCEPT=accept)
    assert reply["Content-Type"].startswith("application/openmetrics-text")
    assert reply.content.rstrip().endswith(b"# EOF")


def test_child_exit_never_stops_the_master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook runs in gunicorn's main loop: a file it cannot remove is logged, not raised."""
    from config import gunicorn_hooks

    directory = tmp_path / "metrics"
    monkeypatch.setenv(gunicorn_hooks.MULTIPROC_VARIABLE, str(directory))
    gunicorn_hooks.on_starting(None)
    (directory / "counter_41.db").write_bytes(b"")
    (directory / "gauge_livesum_41.db").write_bytes(b"")
    (directory / "gauge_livesum_42.db").mkdir()  # os.remove refuses a directory
    warnings: list[str] = []
    server = SimpleNamespace(log=SimpleNamespace(warning=lambda *a: warnings.append(a[0] % a[1:])))
    gunicorn_hooks.child_exit(server, SimpleNamespace(pid=41))
    gunicorn_hooks.child_exit(server, SimpleNamespace(pid=42))
    assert sorted(p.name for p in directory.iterdir()) == ["counter_41.db", "gauge_livesum_42.db"]
    assert len(warnings) == 1 and "worker 42" in warnings[0]
    gunicorn_hooks.on_starting(None)  # a new service start: every metric file goes
    assert [p.name for p in directory.iterdir()] == ["gauge_livesum_42.db"]
