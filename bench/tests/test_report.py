"""The report of a recorded run: its verdicts, its tables and its JSON file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import noop
import pytest
import records
import report
import targets
from conftest import fake_front_figures
from results import BenchResults

SAMPLE_FILE = Path(__file__).parent / "sample-results.json"
SAMPLE_REPORT = Path(__file__).parent / "sample-report.txt"

Data = dict[str, Any]


@pytest.fixture(scope="module")
def sample() -> Data:
    """A real `make bench` run in the current records (slowest-task lists shortened), judged
    against the current targets; sample-report.txt is its table.
    """
    return json.loads(SAMPLE_FILE.read_text())


def results_of(data: Data) -> BenchResults:
    return records.from_dict(BenchResults, {k: v for k, v in data.items() if k != "targets"})


@pytest.fixture
def met(sample: Data) -> Data:
    """The recorded run with every figure inside its target."""
    met = copy.deepcopy(sample)
    met["provisioning"]["noop_rerun_vs_fresh"] = 0.25
    for x in met["noop"]["roles"]:
        x["floor_multiple"] = x["target_floor_multiple"] - 0.5
        x["max_changed"] = 0
    for floor in met["noop"]["floors"]:
        floor["max_changed"] = 0
    met["inprocess"]["limiter_added_vs_get"] = 1.1
    met["http"]["limited_vs_bare_throughput"] = 0.95
    met["http"]["health_redis_connections"]["new_connections"] = 0
    for step in met["day2"]["steps"]:
        step["load"]["failed"], step["load"]["requests_per_second"] = 0, 60.0
    met["front"] = records.as_dict(fake_front_figures())  # the recorded run predates the front
    return met


def test_the_recorded_run_is_judged_as_recorded(sample: Data) -> None:
    results, recorded = report.read_json(SAMPLE_FILE)
    assert targets.judge(results) == recorded
    assert {t.name: t.met for t in recorded}["redis no-op re-run alone / floor"] is False


def test_the_recorded_run_prints_its_tables(sample: Data) -> None:
    results, recorded = report.read_json(SAMPLE_FILE)
    assert report.table(results, recorded) + "\n" == SAMPLE_REPORT.read_text()


def test_the_results_file_reads_back_as_written(sample: Data, tmp_path: Path) -> None:
    results, recorded = report.read_json(SAMPLE_FILE)
    path = report.write_json(results, recorded, str(tmp_path))
    assert path.name == "bench-20261201T083020Z.json"
    assert (tmp_path / "latest.json").read_text() == path.read_text()
    assert report.read_json(path) == (results, recorded)
    assert json.loads(path.read_text()) == sample
    failed = report.write_json(results, [], str(tmp_path / "f"), name="failed")
    assert failed.name.startswith("failed-") and not (tmp_path / "f" / "latest.json").exists()


def test_every_target_met_and_rendered(met: Data) -> None:
    results = results_of(met)
    verdicts = targets.judge(results)
    assert all(t.met for t in verdicts), [t for t in verdicts if not t.met]
    text = report.table(results, verdicts)
    for heading in (
        "Provisioning",
        "by tier",
        "by role",
        "per host",
        "Floor",
        "Redis round trip",
        "Redis memory per tracked client",
        "Limiter in-process",
        "Profile of a limited request",
        "HTTP on",
        "one request at a time",
        "The front: nginx on bench-web (TLSv1.3, local CA) before bench-app1 and bench-app2",
        "front, HTTPS, new connection per request: static file",
        "requests for it that reached the app hosts during the runs: 0",
        "bench-web after the runs: 1234 sockets in TIME_WAIT, net.ipv4.tcp_tw_reuse 2",
        "Day-2 changes under load",
        "Limiter exactness",
        "Drift applied",
        "Targets",
    ):
        assert heading in text, heading
    assert "  NO" not in text


def test_sections_left_out_are_not_judged(met: Data) -> None:
    left_out = ("provisioning", "noop", "drift_repair", "front", "day2", "bench_seconds")
    partial = results_of({k: (None if k in left_out else v) for k, v in met.items()})
    verdicts = targets.judge(partial)
    names = {t.name for t in verdicts}
    assert "full-stack no-op re-run / fresh converge" not in names
    assert not any(n.startswith(("day-2", "drift", "front")) for n in names)
    assert "rate-limited / bare throughput" in names
    text = report.table(partial, verdicts)
    assert "Provisioning" not in text and "bench wall time" not in text
    assert "The front" not in text
    assert "HTTP on" in text


ROLE = {run.role: index for index, run in enumerate(noop.ROLE_RUNS)}  # their order in the file

MISSES: list[tuple[tuple[str | int, ...], object, str]] = [
    (("provisioning", "noop_rerun_vs_fresh"), 0.31, "full-stack no-op re-run / fresh converge"),
    (("provisioning", "noop_rerun", "changed"), 1, "no-op re-run changes"),
    (("drift_repair", "drifts", 2, "repaired"), False, "drift repaired"),
    (("drift_repair", "run", "changed"), 0, "drift repaired"),
    (("noop", "roles", ROLE["redis"], "floor_multiple"), 2.01, "redis no-op re-run alone / floor"),
    (("noop", "roles", ROLE["app"], "floor_multiple"), 4.01, "app no-op re-run alone / floor"),
    (
        ("noop", "roles", ROLE["static_files"], "max_changed"),
        1,
        "role-alone and floor runs change nothing",
    ),
    (("noop", "floors", 1, "max_changed"), 1, "role-alone and floor runs change nothing"),
    (
        ("inprocess", "limiter_added_vs_get"),
        1.31,
        "limiter added cost / redis-py GET (in-process)",
    ),
    (("http", "limited_vs_bare_throughput"), 0.84, "rate-limited / bare throughput"),
    (
        ("front", "http_vs_straight"),
        0.89,
        "front / straight to gunicorn, HTTP keep-alive",
    ),
    (
        ("front", "https_vs_straight"),
        0.89,
        "front / straight to gunicorn, HTTPS keep-alive",
    ),
    (
        ("front", "static_vs_straight"),
        1.99,
        "front static files/s / straight to gunicorn req/s",
    ),
    (
        ("front", "static_file", "app_requests"),
        1,
        "front static file requests reaching the app hosts",
    ),
    (
        ("front", "handshakes_vs_straight"),
        0.99,
        "front new TLS handshakes/s / straight to gunicorn req/s",
    ),
    (("exactness", "http", "allowed"), 101, "HTTP limiter, both hosts"),
    (("exactness", "app_limiter_direct", "allowed"), 99, "app's sliding log, direct"),
    (("exactness", "app_limiter_direct", "errors"), 1, "app's sliding log, direct"),
    (
        ("http", "health_redis_connections", "new_connections"),
        10**6,
        "/health/ new Redis connections",
    ),
    (
        ("limiter_round_trip", "fcall_per_decision"),
        2.0,
        "limiter decision = one FCALL round trip",
    ),
    (
        ("day2", "redis_setting", "pid_after"),
        "1",
        "day-2: Redis setting applied without a restart",
    ),
    (
        ("day2", "postgresql_setting", "work_mem_after"),
        "4MB",
        "day-2: PostgreSQL setting applied by reload",
    ),
]


@pytest.mark.parametrize(("path", "value", "target"), MISSES)
def test_a_missed_target_is_reported(
    met: Data, path: tuple[str | int, ...], value: object, target: str
) -> None:
    node: Any = met
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    verdicts = {t.name: t.met for t in targets.judge(results_of(met))}
    assert verdicts[target] is False
    assert sum(not ok for ok in verdicts.values()) == 1


def test_the_redis_role_may_take_twice_the_floor(met: Data) -> None:
    met["noop"]["roles"][ROLE["redis"]]["floor_multiple"] = 2.0
    verdicts = {t.name: t for t in targets.judge(results_of(met))}
    redis = verdicts["redis no-op re-run alone / floor"]
    assert redis.met and redis.goal == "<= 2"
    assert verdicts["postgresql no-op re-run alone / floor"].goal == "<= 4"


@pytest.mark.parametrize(("failed", "rate"), [(1, 60.0), (0, 49.0)])
def test_a_day2_step_with_a_failure_or_too_little_load_is_missed(
    met: Data, failed: int, rate: float
) -> None:
    step = met["day2"]["steps"][2]
    step["load"]["failed"], step["load"]["requests_per_second"] = failed, rate
    missed = [t.name for t in targets.judge(results_of(met)) if not t.met]
    assert missed == [f"day-2: {step['name']}"]


def test_the_front_is_judged_at_its_floors(met: Data) -> None:
    """Exactly at each floor is met; the measured text names both sides of the ratio."""
    f = met["front"]
    f["http_vs_straight"] = f["https_vs_straight"] = 0.9
    f["static_vs_straight"], f["handshakes_vs_straight"] = 2.0, 1.0
    verdicts = {t.name: t for t in targets.judge(results_of(met))}
    front = [t for name, t in verdicts.items() if name.startswith("front")]
    assert len(front) == 5 and all(t.met for t in front)
    https = verdicts["front / straight to gunicorn, HTTPS keep-alive"]
    assert https.goal == ">= 0.9" and "/ 1000.0 req/s" in https.measured
    assert "from the servers' CPU per request" in https.measured
    handshakes = verdicts["front new TLS handshakes/s / straight to gunicorn req/s"]
    assert handshakes.goal == ">= 1" and "2000.0 handshakes/s / 1000.0 req/s" in handshakes.measured
    assert verdicts["front static files/s / straight to gunicorn req/s"].goal == ">= 2"
