"""The benchmark's parsing, verdicts and limiters, without the container stack."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpload
import limiter
import provision
import pytest
import redis
import report

# A real `make bench` result (slowest-task lists shortened). Two of its
# targets were missed on the machine it came from; MET is the same result
# with those two figures inside their targets.
SAMPLE = json.loads((Path(__file__).parent / "sample-results.json").read_text())
MET = copy.deepcopy(SAMPLE)
MET["provisioning"]["rerun_ratio"] = 0.3
MET["http"]["limited_vs_bare"] = 0.95


def callback_output(tasks: list[tuple[str, str, str]]) -> str:
    """ansible.posix.json output as ansible-playbook prints it, timer line included."""
    document = {
        "plays": [
            {
                "play": {"name": "p"},
                "tasks": [
                    {"task": {"name": name, "duration": {"start": start, "end": end}}, "hosts": {}}
                    for name, start, end in tasks
                ],
            }
        ],
        "stats": {"h1": {"ok": 3, "changed": 1, "failures": 0, "unreachable": 0}},
    }
    return (
        json.dumps(document, indent=4)
        + "\nPlaybook run took 0 days, 0 hours, 0 minutes, 9 seconds\n"
    )


def test_json_report_skips_the_timer_line_and_sums_task_times() -> None:
    out = callback_output(
        [
            ("a", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.500000Z"),
            ("b", "2026-01-01T00:00:02.000000Z", "2026-01-01T00:00:02.250000Z"),
            ("a", "2026-01-01T00:00:03.000000Z", "2026-01-01T00:00:04.000000Z"),
        ]
    )
    total, ranked = provision._task_times(provision._json_report(out))
    assert total == pytest.approx(2.75)
    assert [(t.name, t.seconds, t.runs) for t in ranked] == [("a", 2.5, 2), ("b", 0.25, 1)]


def test_the_recorded_run_is_judged_as_it_was() -> None:
    missed = {t["name"] for t in report.targets(SAMPLE) if not t["met"]}
    assert missed == {"re-run / fresh converge", "rate-limited / bare throughput"}


def test_every_target_met_and_rendered() -> None:
    targets = report.targets(MET)
    assert all(t["met"] for t in targets), targets
    text = report.table({**MET, "targets": targets})
    for heading in ("Provisioning", "HTTP on", "Limiter exactness", "Redis round trip", "Targets"):
        assert heading in text
    assert "| NO" not in text and "  NO" not in text


@pytest.mark.parametrize(
    ("path", "value", "target"),
    [
        (("provisioning", "rerun_ratio"), 0.5, "re-run / fresh converge"),
        (("provisioning", "rerun", "changed"), 1, "re-run changes"),
        (("http", "limited_vs_bare"), 0.8, "rate-limited / bare throughput"),
        (("exactness", "http", "allowed"), 101, "HTTP limiter, both hosts"),
        (("exactness", "atomic_direct", "allowed"), 99, "Lua limiter, direct"),
        (
            ("http", "health_redis_connections", "new_connections"),
            10**6,
            "/health/ new Redis connections",
        ),
        (("redis", "evalsha_per_limiter_call"), 2.0, "limiter call = one EVALSHA round trip"),
    ],
)
def test_a_missed_target_is_reported(path: tuple[str, ...], value: float, target: str) -> None:
    results = copy.deepcopy(MET)
    node = results
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    verdicts = {t["name"]: t["met"] for t in report.targets(results)}
    assert verdicts[target] is False
    assert sum(not met for met in verdicts.values()) == 1


def test_the_bench_runs_the_apps_own_script() -> None:
    script = limiter.app_lua_script()
    assert "INCR" in script and "PEXPIRE" in script


def test_atomic_limiter_is_exact_and_the_baseline_is_not_stricter(redis_url: dict) -> None:
    def make_client() -> redis.Redis:
        return redis.Redis(**redis_url)

    atomic = limiter.run_concurrently(
        make_client,
        limiter.atomic_allow_factory(limiter.app_lua_script()),
        key="t:atomic",
        limit=20,
        callers=60,
    )
    seed = limiter.run_concurrently(
        make_client, limiter.seed_style_allow, key="t:seed", limit=20, callers=60
    )
    assert (atomic["allowed"], atomic["denied"], atomic["errors"]) == (20, 40, 0)
    assert seed["errors"] == 0
    assert seed["allowed"] >= 20  # racing GET/SET can only let more through


def test_burst_counts_every_answer_and_the_missing_ones() -> None:
    """A loopback server that answers 200 to the first 30 requests and 429 after."""
    seen: list[str] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                seen.append(self.headers["Host"])
                status = 200 if len(seen) <= 30 else 429
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        targets = [("127.0.0.1", "a"), ("127.0.0.1", "b")]
        counts = httpload.burst(targets, "/", total=80, timeout=10, port=port)
        assert counts == {200: 30, 429: 50}
        assert sorted(set(seen)) == ["a", "b"] and seen.count("a") == 40
        # Nothing listening: every request is counted as unanswered (0).
        assert httpload.burst(targets, "/", total=5, timeout=2, port=1) == {0: 5}
    finally:
        server.shutdown()
        server.server_close()
