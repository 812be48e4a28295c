"""The benchmark's parsing, verdicts and limiters, without the container stack."""

from __future__ import annotations

import copy
import cProfile
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import common
import daytwo
import httpload
import inprocess
import limiter
import noop
import provision
import pytest
import redis
import report
import yaml
from common import ROOT

SAMPLE_FILE = Path(__file__).parent / "sample-results.json"


@pytest.fixture(scope="module")
def sample() -> dict:
    """A real `make bench` result (slowest-task lists shortened): the run bench/README.md shows."""
    return json.loads(SAMPLE_FILE.read_text())


@pytest.fixture
def met(sample: dict) -> dict:
    """The recorded result with every figure inside its target."""
    met = copy.deepcopy(sample)
    met["provisioning"]["rerun_ratio"] = 0.25
    for role in met["noop"]["roles"].values():
        role["x_floor"] = role["target_x_floor"] - 0.5
        role["changed"] = 0
    for floor in met["noop"]["floor"].values():
        floor["changed"] = 0
    met["inprocess"]["added_vs_get"] = 1.1
    met["http"]["limited_vs_bare"] = 0.95
    met["http"]["health_redis_connections"]["new_connections"] = 0
    for step in met["day2"]["steps"]:
        step["failed"], step["rate"] = 0, 60.0
    return met


def callback_output(tasks: list[tuple[str, str, str]], tail: str = "") -> str:
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
        + tail
    )


ROLES_RECAP = """
ROLES RECAP ********************************************************************
Monday 30 November 2026  17:16:23 +0000 (0:00:01.362)       0:00:01.362 *******
===============================================================================
redis ------------------------------------------------------------------- 5.26s
ansible.builtin.setup --------------------------------------------------- 1.50s
gunicorn_systemd ------------------------------------------------------ 123.04s
ansible.builtin.assert -------------------------------------------------- 0.03s
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
total ------------------------------------------------------------------ 129.83s
"""


def test_json_report_skips_the_timer_line_and_sums_task_times() -> None:
    out = callback_output(
        [
            ("a", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.500000Z"),
            ("b", "2026-01-01T00:00:02.000000Z", "2026-01-01T00:00:02.250000Z"),
            ("a", "2026-01-01T00:00:03.000000Z", "2026-01-01T00:00:04.000000Z"),
        ],
        tail=ROLES_RECAP,
    )
    report_, rest = provision._json_report(out)
    total, ranked = provision._task_times(report_)
    assert total == pytest.approx(2.75)
    assert [(t.name, t.seconds, t.runs) for t in ranked] == [("a", 2.5, 2), ("b", 0.25, 1)]
    assert "ROLES RECAP" in rest and "Playbook run took" in rest


def test_profile_roles_summary_is_read_per_role() -> None:
    seconds = provision.profile_roles(ROLES_RECAP)
    assert seconds == {
        "redis": 5.26,
        "gunicorn_systemd": 123.04,
        provision.NO_ROLE: pytest.approx(1.53),
    }
    assert provision.profile_roles("no recap here") == {}


def _result(action: str, **extra) -> dict:
    return {"action": action, "changed": False, **extra}


def test_module_executions_count_what_ran_on_the_host() -> None:
    count = provision.module_executions
    assert count(_result("ansible.builtin.stat")) == 1
    assert count(_result("ansible.builtin.stat", skipped=True)) == 0
    assert count(_result("ansible.builtin.set_fact")) == 0
    assert count(_result("ahsp.stack.check_inputs")) == 0
    assert count(_result("ansible.builtin.include_role")) == 0
    items = [{"changed": False}, {"skipped": True}, {"changed": False}]
    assert count(_result("ansible.builtin.file", results=items)) == 2


def test_breakdown_by_play_role_and_host() -> None:
    def task(name: str, path: str, start: str, end: str, hosts: dict) -> dict:
        duration = {"start": f"2026-01-01T00:00:{start}Z", "end": f"2026-01-01T00:00:{end}Z"}
        return {"task": {"name": name, "path": path, "duration": duration}, "hosts": hosts}

    ok = _result("ansible.builtin.stat")
    report_ = {
        "plays": [
            {
                "play": {"name": "Preflight", "duration": {}},
                "tasks": [
                    task("setup", "/p/playbooks/preflight.yml:3", "00", "02", {"r": ok, "a": ok}),
                    task(
                        "redis : validate | x",
                        "/p/roles/redis/tasks/validate.yml:9",
                        "02",
                        "03",
                        {"r": _result("ahsp.stack.check_inputs")},
                    ),
                ],
            },
            {
                "play": {"name": "Go live", "duration": {}},
                "tasks": [
                    task("g", "/p/roles/gunicorn_systemd/tasks/x.yml:1", "03", "04", {"a": ok})
                ],
            },
            {
                "play": {"name": "Go live", "duration": {}},
                "tasks": [
                    task(
                        "g",
                        "/p/roles/gunicorn_systemd/tasks/x.yml:1",
                        "04",
                        "06",
                        {"b": _result("ansible.builtin.stat", skipped=True)},
                    )
                ],
            },
        ]
    }
    shares = provision.breakdown(report_, {"redis": 7.5})
    plays = {s.name: s for s in shares["plays"]}
    assert (plays["Go live"].batches, plays["Go live"].hosts, plays["Go live"].tasks) == (2, 2, 2)
    assert plays["Go live"].modules == 1 and plays["Go live"].skipped == 1
    roles = {s.name: s for s in shares["roles"]}
    assert roles["redis"].seconds == 7.5  # profile_roles wins
    assert roles["redis"].modules == 0 and roles["redis"].tasks == 1
    assert roles["gunicorn_systemd"].seconds == 3.0  # summed task times otherwise
    assert roles[provision.NO_ROLE].modules == 2
    hosts = {s.name: (s.tasks, s.modules) for s in shares["hosts"]}
    assert hosts == {"r": (2, 1), "a": (2, 2), "b": (1, 0)}


def test_the_floor_gathers_facts_as_the_preflight_does() -> None:
    preflight = yaml.safe_load((ROOT / "playbooks" / "preflight.yml").read_text())
    floor = noop.floor_playbook()
    assert len(floor) == 1 and floor[0]["hosts"] == "{{ bench_hosts }}"
    tasks = floor[0]["tasks"]
    assert tasks[-1]["ansible.builtin.ping"] is None and tasks[-1]["become"] is True
    setups = [t for t in tasks if "ansible.builtin.setup" in t]
    text = json.dumps(preflight)
    for setup in setups:
        assert json.dumps(setup["ansible.builtin.setup"]) in text
    assert setups or floor[0].get("gather_facts"), "the floor gathers no facts"
    for imported in (t for t in tasks if "ansible.builtin.import_tasks" in t):
        assert Path(imported["ansible.builtin.import_tasks"]).is_file()
    assert all("when" not in t for t in tasks)


def test_the_floor_follows_a_preflight_that_gathers_at_play_level(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "peer_facts.yml").write_text("---\n[]\n")
    (tmp_path / "preflight.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "p",
                    "hosts": "all",
                    "gather_facts": True,
                    "gather_subset": ["!all", "network"],
                    "tasks": [
                        {
                            "block": [
                                {
                                    "name": "peers",
                                    "ansible.builtin.import_tasks": "tasks/peer_facts.yml",
                                },
                                {"name": "check", "ansible.builtin.assert": {"that": True}},
                            ],
                            "when": "x",
                        }
                    ],
                }
            ]
        )
    )
    settings, tasks = noop.fact_tasks(tmp_path / "preflight.yml")
    assert settings == {"gather_facts": True, "gather_subset": ["!all", "network"]}
    assert [t["name"] for t in tasks] == ["peers"]
    assert tasks[0]["ansible.builtin.import_tasks"] == str(tmp_path / "tasks" / "peer_facts.yml")


def test_every_role_alone_has_its_target() -> None:
    targets = {run.role: run.target for run in noop.ROLE_RUNS}
    assert targets == {
        "redis": 3.0,
        "postgresql": 4.0,
        "app": 4.0,
        "static_files": 4.0,
        "gunicorn_systemd": 4.0,
    }
    for run in noop.ROLE_RUNS:
        assert (ROOT / run.playbook).is_file()


def test_drift_writes_env_files_in_the_roles_format() -> None:
    """Env files are NAME="value": a drift in another quoting would not be a real edit."""
    env_drifts = [argv for _host, argv, _check in provision.DRIFT if "/etc/ahsp/app.env" in argv]
    assert env_drifts, "no drift in app.env"
    for argv in env_drifts:
        script = " ".join(argv)
        assert '="DEBUG"' in script and "='" not in script


def test_the_recorded_run_is_judged_as_it_was(sample: dict) -> None:
    recorded = {t["name"]: t["met"] for t in sample["targets"]}
    assert {t["name"]: t["met"] for t in report.targets(sample)} == recorded
    assert report.table(sample)


def test_every_target_met_and_rendered(met: dict) -> None:
    targets = report.targets(met)
    assert all(t["met"] for t in targets), [t for t in targets if not t["met"]]
    text = report.table({**met, "targets": targets})
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
        "Day-2 changes under load",
        "Limiter exactness",
        "Targets",
    ):
        assert heading in text, heading
    assert "  NO" not in text


def test_sections_left_out_are_not_judged(met: dict) -> None:
    partial = {k: v for k, v in met.items() if k not in ("provisioning", "noop", "day2", "drift")}
    names = {t["name"] for t in report.targets(partial)}
    assert "full-stack no-op re-run / fresh converge" not in names
    assert not any(n.startswith("day-2") for n in names)
    assert "rate-limited / bare throughput" in names
    report.table({**partial, "targets": report.targets(partial)})


@pytest.mark.parametrize(
    ("path", "value", "target"),
    [
        (("provisioning", "rerun_ratio"), 0.31, "full-stack no-op re-run / fresh converge"),
        (("provisioning", "rerun", "changed"), 1, "no-op re-run changes"),
        (("noop", "roles", "redis", "x_floor"), 3.01, "redis no-op re-run alone / floor"),
        (("noop", "roles", "app", "x_floor"), 4.01, "app no-op re-run alone / floor"),
        (
            ("noop", "roles", "static_files", "changed"),
            1,
            "role-alone and floor runs change nothing",
        ),
        (("inprocess", "added_vs_get"), 1.31, "limiter added cost / redis-py GET (in-process)"),
        (("http", "limited_vs_bare"), 0.84, "rate-limited / bare throughput"),
        (("exactness", "http", "allowed"), 101, "HTTP limiter, both hosts"),
        (("exactness", "atomic_direct", "allowed"), 99, "app's sliding log, direct"),
        (
            ("http", "health_redis_connections", "new_connections"),
            10**6,
            "/health/ new Redis connections",
        ),
        (("redis", "fcall_per_limiter_call"), 2.0, "limiter decision = one FCALL round trip"),
        (
            ("day2", "checks", "redis", "pid_after"),
            "1",
            "day-2: Redis setting applied without a restart",
        ),
    ],
)
def test_a_missed_target_is_reported(
    met: dict, path: tuple[str, ...], value: object, target: str
) -> None:
    results = met
    node = results
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    verdicts = {t["name"]: t["met"] for t in report.targets(results)}
    assert verdicts[target] is False
    assert sum(not met for met in verdicts.values()) == 1


@pytest.mark.parametrize(("failed", "rate"), [(1, 60.0), (0, 49.0)])
def test_a_day2_step_with_a_failure_or_too_little_load_is_missed(
    met: dict, failed: int, rate: float
) -> None:
    results = met
    step = results["day2"]["steps"][2]
    step["failed"], step["rate"] = failed, rate
    missed = [t["name"] for t in report.targets(results) if not t["met"]]
    assert missed == [f"day-2: {step['step']}"]


def test_day2_figures_from_the_load_generators_summary() -> None:
    ahsp_load, _ = daytwo._lib()
    answers = [
        ahsp_load.Answer("http://10.0.0.2:8000/health/", started=i / 10, seconds=0.01, status=200)
        for i in range(99)
    ]
    answers.append(
        ahsp_load.Answer("http://10.0.0.2:8000/x/", 9.9, 0.5, -1, "ConnectionResetError")
    )
    summary = ahsp_load.Summary(answers)
    figures = daytwo._figures(summary, quiet_p99_ms=5.0)
    assert (figures["sent"], figures["failed"]) == (100, 1)
    assert figures["rate"] == pytest.approx(100 / 9.9, abs=0.1)
    assert figures["p99_ms"] == 10.0 and figures["p99_x_quiet"] == 2.0
    assert figures["first_failures"] == ["/x/ -> -1 ConnectionResetError"]


def test_the_bench_runs_the_apps_own_limiter() -> None:
    module = limiter.sliding_log()
    assert module.__file__ == str(limiter.SLIDING_LOG_SOURCE)
    library = limiter.app_library().library()
    assert library.function("sliding_log") == module.FUNCTION
    assert "redis.call('TIME')" in library.code


def test_app_limiter_is_exact_and_the_baseline_is_not_stricter(redis_url: dict) -> None:
    def make_client() -> redis.Redis:
        return redis.Redis(**redis_url)

    atomic = limiter.run_concurrently(
        make_client, limiter.app_allow, key="t:atomic", limit=20, callers=60
    )
    seed = limiter.run_concurrently(
        make_client, limiter.seed_style_allow, key="t:seed", limit=20, callers=60
    )
    assert (atomic["allowed"], atomic["denied"], atomic["errors"]) == (20, 40, 0)
    assert seed["errors"] == 0
    assert seed["allowed"] >= 20  # racing GET/SET can only let more through


def test_memory_per_tracked_client(redis_url: dict) -> None:
    client = redis.Redis(**redis_url)
    client.config_set("maxmemory", 64 * 2**20)
    try:
        m = limiter.memory_figures(client, population=500, batch=200)
    finally:
        client.config_set("maxmemory", 0)
    sizes = m["memory_usage_bytes"]
    assert set(sizes) == set(limiter.MEMORY_KEYS)
    # 10 admissions of 8 bytes each, plus the key and Redis' own overhead.
    assert all(80 < size < 1000 for size in sizes.values()), sizes
    assert sizes["IPv6 client"] > sizes["IPv4 client"]
    assert 80 < m["used_memory_per_client_bytes"] < 2000
    expected = 64 * 2**20 / m["used_memory_per_client_bytes"]
    assert m["clients_in_maxmemory"] == pytest.approx(expected, rel=0.01)
    assert not list(client.scan_iter(match="ahsp:rate_limit:bench_*"))


def test_limiter_round_trip_is_one_fcall_per_decision(redis_url: dict) -> None:
    import redisrtt

    client = redis.Redis(**redis_url)
    figures = redisrtt.limiter_round_trip(client, limiter.sliding_log().hit, count=2000, clients=64)
    assert figures["fcall_per_limiter_call"] == 1.0
    assert figures["limiter"]["requests"] == figures["redis_py_get"]["requests"] == 2000
    assert not list(client.scan_iter(match="bench:rtt:limiter:*"))


def test_profile_summary_names_the_limiters_functions() -> None:
    def hit() -> None:
        sum(range(100))

    hit.__code__ = hit.__code__.replace(co_filename="/srv/x/detail_project/sliding_log.py")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        hit()
    profiler.disable()
    import pstats

    summary = inprocess._profile_summary(pstats.Stats(profiler), 10)
    assert summary["points"]["  decision (sliding_log.hit)"]["calls_per_request"] == 1.0
    assert summary["top_own_time"]
    assert inprocess._short("/srv/r/venv/lib/python3.11/site-packages/redis/client.py") == (
        "redis/client.py"
    )


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []
    lock = threading.Lock()
    limit: int | None = None  # answer 429 after this many requests

    def do_GET(self) -> None:
        with self.lock:
            self.seen.append((self.headers["Host"], self.headers.get("X-Forwarded-For", "")))
            status = 200 if self.limit is None or len(self.seen) <= self.limit else 429
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server():
    _Recorder.seen = []
    _Recorder.limit = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


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
    hosts = {host for host, _ in _Recorder.seen}
    clients = [xff for _, xff in _Recorder.seen]
    assert hosts == {"bench-app1"}
    assert all(xff.startswith("10.0.") for xff in clients)
    assert 1 < len(set(clients)) <= 300
    if len(clients) >= 1000:
        assert len(set(clients)) == 300


def test_burst_counts_every_answer_and_the_missing_ones(http_server: int) -> None:
    """A loopback server that answers 200 to the first 30 requests and 429 after."""
    _Recorder.limit = 30
    targets = [("127.0.0.1", "a"), ("127.0.0.1", "b")]
    counts = httpload.burst(targets, "/", total=80, timeout=10, port=http_server)
    assert counts == {200: 30, 429: 50}
    hosts = [host for host, _ in _Recorder.seen]
    assert sorted(set(hosts)) == ["a", "b"] and hosts.count("a") == 40
    # Nothing listening: every request is counted as unanswered (0).
    assert httpload.burst(targets, "/", total=5, timeout=2, port=1) == {0: 5}


def test_interleaved_runs_alternate_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    def fake_wrk(address: str, host: str, path: str, *, seconds: int, **kwargs) -> httpload.WrkRun:
        order.append(path if seconds > 2 else f"warm {path}")
        cpu = {"bench-app1": 100.0, "wrk": 50.0 if path == "/a" else 70.0}
        return httpload.WrkRun(10, 1.0, 10.0, 1.0, 2.0, 3.0, 1.5, {}, cpu)

    monkeypatch.setattr(httpload, "wrk", fake_wrk)
    a, b = httpload.interleaved(
        [("A", "/a"), ("B", "/b")], "127.0.0.1", "h", rounds=3, seconds=5, warmup=1
    )
    assert order == ["warm /a", "warm /b", "/a", "/b", "/b", "/a", "/a", "/b"]
    assert len(a.runs) == len(b.runs) == 3
    assert a.cpu_us == {"bench-app1": 100.0, "wrk": 50.0, "server": 100.0}
    assert b.as_dict()["cpu_us"]["wrk"] == 70.0


def test_time_wait_reuse_is_set_for_the_block_and_put_back(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_tw_reuse"
    setting.write_text("2\n")
    with pytest.raises(RuntimeError), common.reuse_time_wait_ports(setting) as ports:
        assert setting.read_text() == "1\n"
        assert ports == {"before": "2", "during": "1"}
        raise RuntimeError("a phase failed")
    assert setting.read_text() == "2\n"


def test_time_wait_reuse_already_on_is_left_alone(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_tw_reuse"
    setting.write_text("1\n")
    os.utime(setting, ns=(1_000_000_000, 1_000_000_000))  # any write would move it
    with common.reuse_time_wait_ports(setting) as ports:
        assert ports == {"before": "1", "during": "1"}
    assert setting.read_text() == "1\n"
    assert setting.stat().st_mtime_ns == 1_000_000_000


def test_time_wait_reuse_that_cannot_be_written_is_reported_and_kept() -> None:
    # /proc/version reads like a setting but refuses every write, even root's.
    setting = Path("/proc/version")
    before = setting.read_text().strip()
    with common.reuse_time_wait_ports(setting) as ports:
        assert ports == {"before": before, "during": before}
    assert setting.read_text().strip() == before
