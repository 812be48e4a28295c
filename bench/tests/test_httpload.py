"""wrk's client pool, its report read back, the burst's counts and the interleaved order."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpload
import pytest
from conftest import Recorder


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_many_clients_and_keeps_the_host_header(http_server: int) -> None:
    proc = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c2",
            "-d1s",
            "-H",
            "Host: bench-app1",
            "-s",
            str(httpload.WRK_SCRIPT),
            f"http://127.0.0.1:{http_server}/",
            "--",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "WRK_JSON " in proc.stdout
    hosts = {host for host, _ in Recorder.seen}
    clients = [xff for _, xff in Recorder.seen]
    assert hosts == {"bench-app1"}
    assert all(xff.startswith("10.0.") for xff in clients)
    assert 1 < len(set(clients)) <= 300
    if len(clients) >= 1000:
        assert len(set(clients)) == 300


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_wrk_run_is_read_into_its_record(
    http_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpload, "APP_PORT", http_server)
    run = httpload.wrk("127.0.0.1", "h", "/", seconds=1, threads=1, connections=2, clients=10)
    assert 0 < run.requests <= len(Recorder.seen) and run.requests_per_second > 0
    assert run.p50_ms <= run.p90_ms <= run.p99_ms
    assert set(run.cpu_us) == {"wrk"}  # no container asked for: wrk's own CPU only
    Recorder.limit = 0  # every answer a 429: the run is a failed one, not a slow one
    with pytest.raises(httpload.BenchError, match="errors"):
        httpload.wrk("127.0.0.1", "h", "/", seconds=1, threads=1, connections=1)


def test_wrk_report_becomes_a_run_with_cpu_per_request() -> None:
    data = {
        "requests": 2000,
        "duration_us": 4_000_000,
        "latency_us": {"p50": 1500, "p90": 2500, "p99": 9000, "mean": 1800},
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
    }
    before = {"wrk": 0, "bench-app1": 1_000_000}
    after = {"wrk": 200_000_000, "bench-app1": 3_000_000_000}
    run = httpload._wrk_run(data, before, after)
    assert (run.requests_per_second, run.p50_ms, run.p99_ms, run.mean_ms) == (500.0, 1.5, 9.0, 1.8)
    assert run.cpu_us == {"wrk": 100.0, "bench-app1": 1499.5}
    assert httpload._wrk_run(data, None, after).cpu_us == {}


def test_burst_counts_every_answer_and_the_missing_ones(http_server: int) -> None:
    """A loopback server that answers 200 to the first 30 requests and 429 after."""
    Recorder.limit = 30
    targets = [("127.0.0.1", "a"), ("127.0.0.1", "b")]
    counts = httpload.burst(targets, "/", total=80, timeout=10, port=http_server)
    assert counts == {200: 30, 429: 50}
    hosts = [host for host, _ in Recorder.seen]
    assert sorted(set(hosts)) == ["a", "b"] and hosts.count("a") == 40
    # Nothing listening: every request is counted as unanswered (0).
    assert httpload.burst(targets, "/", total=5, timeout=2, port=1) == {0: 5}


def test_interleaved_runs_alternate_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    seen_after: list[int] = []

    def fake_wrk(address: str, host: str, path: str, *, seconds: int, **kwargs) -> httpload.WrkRun:
        order.append(path if seconds > 2 else f"warm {path}")
        cpu = {"bench-app1": 100.0, "wrk": 50.0 if path == "/a" else 70.0}
        return httpload.WrkRun(10, 1.0, 10.0, 1.0, 2.0, 3.0, 1.5, {}, cpu)

    def around(path: str):
        return (lambda run: seen_after.append(run.requests)) if path == "/b" else None

    monkeypatch.setattr(httpload, "wrk", fake_wrk)
    a, b = httpload.interleaved(
        [("A", "/a"), ("B", "/b")], "127.0.0.1", "h", rounds=3, seconds=5, warmup=1, around=around
    )
    assert order == ["warm /a", "warm /b", "/a", "/b", "/b", "/a", "/a", "/b"]
    assert len(a.runs) == len(b.runs) == 3 and seen_after == [10, 10, 10]
    assert (a.name, a.path, b.name, b.path) == ("A", "/a", "B", "/b")
    assert a.cpu_us == {"bench-app1": 100.0, "wrk": 50.0, "server": 100.0}
    assert b.cpu_us["wrk"] == 70.0


@pytest.fixture
def two_servers() -> Iterator[tuple[int, Counter[str]]]:
    """Loopback servers on 127.0.0.1 and 127.0.0.2, one port; counts the requests each answers."""
    answered: Counter[str] = Counter()

    class Count(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            answered[self.server.server_address[0]] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    first = ThreadingHTTPServer(("127.0.0.1", 0), Count)
    servers = [first, ThreadingHTTPServer(("127.0.0.2", first.server_address[1]), Count)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield first.server_address[1], answered
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_spreads_its_threads_over_a_sites_addresses(
    two_servers: tuple[int, Counter[str]],
) -> None:
    """The name is not resolved (bench-app1 is no name here): wrk connects to the addresses."""
    port, answered = two_servers
    site = httpload.Site("http", "bench-app1", port, ("127.0.0.1", "127.0.0.2"))
    run = httpload.wrk_site(site, "/", seconds=1, threads=2, connections=2, clients=10)
    assert run.requests > 0 and set(answered) == {"127.0.0.1", "127.0.0.2"}


def test_a_site_with_more_addresses_than_threads_is_refused() -> None:
    site = httpload.Site("http", "x", 1, ("127.0.0.1", "127.0.0.2"))
    with pytest.raises(httpload.BenchError, match="1 threads for 2 addresses"):
        httpload.wrk_site(site, "/", seconds=1, threads=1, connections=2)
