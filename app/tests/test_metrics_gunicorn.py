"""Metrics over a real gunicorn with several workers: exact counts in one scrape, whoever served.

Each test runs gunicorn with the gunicorn.conf.py lines the deployment adds
(tests/metrics_scrape.py): the multiprocess directory set in the master's
environment, emptied by ``on_starting``, dead workers' live gauges removed by
``child_exit``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import APP_DIR, GunicornServer, gunicorn, wait_for
from tests.httpclient import request
from tests.metrics_scrape import (
    live_gauge_pids,
    per_worker_counts,
    requests_counted,
    scrape,
    value,
    write_gunicorn_conf,
)
from tests.redis_servers import RedisServer
from tests.stack import host_env, wait_healthy

pytestmark = pytest.mark.slow

REQUESTS = 1_000
CONCURRENCY = 16
WORKERS = 4
RECYCLE_AFTER = 150  # max_requests: every worker is replaced a few times over
SCRAPER = "127.0.0.1"
PROXY = "127.0.0.3"


@contextmanager
def metrics_server(
    tmp_path: Path,
    redis_server: RedisServer,
    static_root: Path,
    *,
    extra_args: tuple[str, ...] = (),
    workers: int = WORKERS,
    redis_reachable: bool = True,
    **values: str,
) -> Iterator[tuple[GunicornServer, Path]]:
    """gunicorn with the deployment's metrics hooks, and its multiprocess directory (holding a
    stale file, as if left by an earlier service start).
    """
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left over from a previous service start")
    conf = write_gunicorn_conf(tmp_path / "gunicorn.conf.py", metrics_dir)
    redis_db = 13  # apart from other tests' keys
    redis_server.client(redis_db).flushdb()
    env = host_env(
        tmp_path, redis_server, db=redis_db, static_root=static_root,
        METRICS_ALLOWED_NETWORKS=f"{SCRAPER}/32", **values,
    )  # fmt: skip
    with gunicorn(env, workers=workers, config=conf, extra_args=extra_args) as server:
        if redis_reachable:
            wait_healthy(server)
        else:
            wait_for(lambda: answers(server, "/health/live/"), 30, "gunicorn /health/live/")
        yield server, metrics_dir


def answers(server: GunicornServer, path: str) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError(f"gunicorn exited early:\n{server.log_text()}")
    try:
        return request(server.base_url, path, timeout=2).status == 200
    except OSError:
        return False


def send_live_probes(server: GunicornServer, count: int) -> None:
    """``count`` GETs of /health/live/, CONCURRENCY at a time, each on a new connection."""

    def probe(_: int) -> int:
        return request(server.base_url, "/health/live/").status

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        statuses = list(pool.map(probe, range(count), timeout=120))
    assert statuses == [200] * count


def test_a_thousand_requests_over_every_worker_sum_to_a_thousand(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    with metrics_server(tmp_path, redis_server, static_root) as (server, metrics_dir):
        send_live_probes(server, REQUESTS)
        samples = scrape(server.base_url)
        log = server.log_text()

    assert requests_counted(samples, "live") == REQUESTS, log
    per_worker = per_worker_counts(metrics_dir, "live")
    assert len(per_worker) == WORKERS and min(per_worker.values()) > 0, per_worker
    assert sum(per_worker.values()) == REQUESTS
    # The histogram saw each request once too, and the file left over was removed at start.
    timed = value(samples, "ahsp_http_request_duration_seconds_count", view="live", method="GET")
    assert timed == REQUESTS
    assert not (metrics_dir / "counter_1.db").exists()


def test_counts_of_recycled_workers_are_kept(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    """``max_requests`` replaces each worker many times over; the dead ones' counts stay."""
    recycle = ("--max-requests", str(RECYCLE_AFTER), "--max-requests-jitter", "0")
    with metrics_server(tmp_path, redis_server, static_root, extra_args=recycle) as (
        server,
        metrics_dir,
    ):
        send_live_probes(server, REQUESTS)
        samples = scrape(server.base_url)
        log = server.log_text()

    per_worker = per_worker_counts(metrics_dir, "live")
    # No worker serves more than RECYCLE_AFTER, so at least this many took part.
    assert log.count("Booting worker") >= -(-REQUESTS // RECYCLE_AFTER), log
    assert len(per_worker) > WORKERS  # served by workers that have exited since
    assert sum(per_worker.values()) == REQUESTS
    assert requests_counted(samples, "live") == REQUESTS


def test_counts_survive_a_reload(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    """HUP: new workers, same master and directory; the old workers' counts stay."""
    with metrics_server(tmp_path, redis_server, static_root) as (server, metrics_dir):
        send_live_probes(server, REQUESTS // 2)
        before = set(per_worker_counts(metrics_dir, "live"))
        os.kill(server.proc.pid, signal.SIGHUP)
        wait_for(lambda: server.log_text().count("Booting worker") >= 2 * WORKERS, 30, "reload")
        wait_for(lambda: server.log_text().count("Worker exiting") >= WORKERS, 30, "old workers")
        send_live_probes(server, REQUESTS // 2)
        samples = scrape(server.base_url)

    per_worker = per_worker_counts(metrics_dir, "live")
    assert set(per_worker) - before, "the new workers served some"
    assert sum(per_worker.values()) == REQUESTS
    assert requests_counted(samples, "live") == REQUESTS


def test_dead_workers_live_gauges_go_their_counters_stay(
    redis_server: RedisServer, static_root: Path, tmp_path: Path, dead_redis_url: str
) -> None:
    """Redis unreachable: every worker that asked opened its breaker. After a reload the
    new workers have not asked yet, and the old ones' open breakers are no longer counted.
    """
    with metrics_server(
        tmp_path, redis_server, static_root, workers=2, redis_reachable=False,
        REDIS_URL=dead_redis_url, RATELIMIT_FAIL_OPEN="true",
    ) as (server, metrics_dir):  # fmt: skip
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            statuses = list(
                pool.map(lambda _: request(server.base_url, "/api/test/").status, range(40))
            )
        opened = scrape(server.base_url)
        old_pids = live_gauge_pids(metrics_dir)
        os.kill(server.proc.pid, signal.SIGHUP)
        # The master reaps each old worker and runs child_exit, which removes its file.
        wait_for(lambda: not old_pids & live_gauge_pids(metrics_dir), 30, "old workers reaped")
        after = scrape(server.base_url)
        log = server.log_text()

    assert statuses == [200] * 40, log  # fail open
    unavailable = value(
        opened, "ahsp_ratelimit_decisions_total", endpoint="api_test", decision="unavailable"
    )
    assert unavailable == 40
    # Each worker that served one of them opened its breaker (most likely both).
    open_breakers = value(opened, "ahsp_redis_breaker_open", breaker="Redis")
    assert 1 <= open_breakers == len(old_pids) <= 2
    assert value(after, "ahsp_redis_breaker_open", breaker="Redis") == 0
    transitions = value(
        after, "ahsp_redis_breaker_transitions_total", breaker="Redis", state="open"
    )
    assert transitions == open_breakers
    assert (
        value(after, "ahsp_ratelimit_decisions_total", endpoint="api_test", decision="unavailable")
        == 40
    )


def test_limiter_decisions_are_counted_across_workers(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    with metrics_server(tmp_path, redis_server, static_root, RATELIMIT_REQUESTS="10") as (
        server,
        _,
    ):
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            statuses = list(
                pool.map(lambda _: request(server.base_url, "/api/test/").status, range(50))
            )
        samples = scrape(server.base_url)

    assert sorted(statuses) == [200] * 10 + [429] * 40
    decisions = {
        decision: value(
            samples, "ahsp_ratelimit_decisions_total", endpoint="api_test", decision=decision
        )
        for decision in ("allowed", "limited", "unavailable")
    }
    assert decisions == {"allowed": 10, "limited": 40, "unavailable": 0}
    assert (
        value(samples, "ahsp_http_requests_total", view="api_test", method="GET", status="4xx")
        == 40
    )


def test_only_the_allowed_peer_may_scrape(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    """The TCP peer decides, never X-Forwarded-For: a request through a trusted proxy
    (the front) naming the scraper's address is refused like any other.
    """
    with metrics_server(tmp_path, redis_server, static_root, workers=2, TRUSTED_PROXIES=PROXY) as (
        server,
        _,
    ):
        allowed = request(server.base_url, "/metrics", source=SCRAPER)
        other = request(server.base_url, "/metrics", source="127.0.0.2")
        forwarded = request(
            server.base_url, "/metrics", source=PROXY, headers={"X-Forwarded-For": SCRAPER}
        )
        posted = request(server.base_url, "/metrics", method="POST", source="127.0.0.2")

    assert allowed.status == 200
    assert allowed.headers["Content-Type"].startswith("text/plain")
    assert b"ahsp_http_requests_total" in allowed.body
    assert (other.status, forwarded.status, posted.status) == (404, 404, 404)
    assert b"ahsp_" not in other.body + forwarded.body + posted.body


def test_check_config_with_the_hooks_writes_no_metrics_file(
    redis_server: RedisServer, static_root: Path, tmp_path: Path
) -> None:
    """The deploy proves gunicorn.conf.py with ``--check-config``, which imports the app with
    the directory set: before the service's first start it does not exist yet.
    """
    metrics_dir = tmp_path / "run" / "metrics"
    conf = write_gunicorn_conf(tmp_path / "gunicorn.conf.py", metrics_dir)
    env = host_env(tmp_path, redis_server, db=13, static_root=static_root)
    command = [sys.executable, "-m", "gunicorn", "--check-config", "--config", str(conf)]
    result = subprocess.run(
        [*command, "config.wsgi:application"],
        cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not metrics_dir.exists()
