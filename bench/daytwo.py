"""Day-2 changes under live traffic: does shipping a change ever fail a request?

A bounded load from the controller (tests/lib/ahsp_load.py, the same
generator as the full-stack Molecule scenario's test: `RATE` requests/s in
all, each on a new connection, round-robin over `/health/` and the cached tree
API `GET /api/project/<id>/list-pekerjaan/tree/` with a bearer token, on both
app hosts) runs while the playbooks ship, one after the other:

1. a code change: a copy of app/ with one more module (`-e app_source_dir=`);
2. a requirements change: that copy with a comment appended to
   requirements.txt (new lock, new venv: a restart while systemd holds the
   socket);
3. an environment change (`-e app_log_level=WARNING`: HUP);
4. a Redis run-time setting (`-e redis_maxmemory=200mb`: CONFIG SET);
5. a PostgreSQL reloadable setting (`-e postgresql_extra_config={work_mem: 16MB}`);
6. a rollback (playbooks/rollback.yml: the previous release);
7. back to the inventory (site.yml without the step values).

Every run carries `app_ratelimit_requests=1000000` (the token's user must
never be limited) and repeats the values of the earlier steps it must not
undo. Each step is one ansible-playbook run with SETTLE seconds of load
before and after; a failure is a 5xx, a refused or reset connection or a
timeout (429 is not one). Before the steps, a quiet baseline: the same load
with nothing shipping, which each step's p99 is compared with.
"""

from __future__ import annotations

import http.client
import json
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import provision
import redis
from common import (
    APP_HOSTS,
    APP_PORT,
    DB_HOST,
    HEALTH_PATH,
    REDIS_HOST,
    BenchError,
    container_ip,
    docker_exec,
    log,
)
from project_modules import TESTS_LIB, import_from

ahsp_load = import_from(TESTS_LIB, "ahsp_load")
ahsp_testing = import_from(TESTS_LIB, "ahsp_testing")

# The load every step runs under, in requests/s over both app hosts: at
# least MIN_RATE must be kept for a step's "0 failed" to mean anything.
RATE = 60.0
MIN_RATE = 50.0
QUIET_SECONDS = 10.0
SETTLE = 2.0
LOAD_MAX_SECONDS = 900.0  # ahsp_load's own cap
PLAYBOOK_TIMEOUT = 840
LIMIT = {"app_ratelimit_requests": 1000000}
HOST_HEADER = "localhost"  # always among the app's allowed hosts
PG_SQL = "runuser -u postgres -- psql -X -At -c {}"
TREE_PATH = "/api/project/{}/list-pekerjaan/tree/"
REDIS_MAXMEMORY = "200mb"
REDIS_MAXMEMORY_BYTES = 200 * 1024 * 1024
PG_WORK_MEM = "16MB"

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class LoadFigures:
    """What the load generator saw over one window of load."""

    sent: int
    failed: int  # 5xx, refused or reset connections, timeouts
    statuses: dict[str, int]  # answers by HTTP status ("-1": no answer)
    requests_per_second: float  # the rate actually kept
    seconds: float  # from the first request to the last
    p50_ms: float
    p99_ms: float
    p99_vs_quiet: float  # p99 / the quiet baseline's p99 (1.0 for the baseline)
    first_failures: list[str]  # up to five, "<path> -> <status> <error>"


@dataclass(frozen=True)
class Day2Step:
    """One change shipped under load: the playbook run and what the load saw meanwhile."""

    name: str
    playbook: str
    extra_vars: dict[str, Any]  # app_source_dir given as the copy's name
    playbook_seconds: float
    changed: int
    load: LoadFigures
    served_releases: list[str]  # the release each app host's /health/ reports after it


@dataclass(frozen=True)
class RedisSettingCheck:
    """The Redis step's setting in force, and whether the server restarted for it."""

    maxmemory_after: int
    maxmemory_wanted: int
    pid_before: str
    pid_after: str

    @property
    def applied_without_restart(self) -> bool:
        """CONFIG SET, not a restart: a restart would drop every client's connection."""
        return self.maxmemory_after == self.maxmemory_wanted and self.pid_before == self.pid_after


@dataclass(frozen=True)
class PostgresqlSettingCheck:
    """The PostgreSQL step's setting in force, and whether the server restarted for it."""

    work_mem_after: str
    work_mem_wanted: str
    started_before: str  # pg_postmaster_start_time()
    started_after: str

    @property
    def restarted(self) -> bool:
        """A different postmaster start time: the server was restarted, not reloaded."""
        return self.started_before != self.started_after

    @property
    def applied_by_reload(self) -> bool:
        """The setting took effect by reload alone: open connections and transactions live on."""
        return self.work_mem_after == self.work_mem_wanted and not self.restarted


@dataclass(frozen=True)
class Day2Figures:
    """The day-2 section: the quiet baseline, every step, and the two settings' checks."""

    requests_per_second: float  # the load's rate, over both app hosts
    paths_per_host: list[str]
    hosts: list[str]
    settle_seconds: float  # load before and after each playbook run
    quiet: LoadFigures
    steps: list[Day2Step]
    redis_setting: RedisSettingCheck
    postgresql_setting: PostgresqlSettingCheck
    releases_before: list[str]  # each app host's release before the first step


@dataclass(frozen=True)
class Step:
    """A change to ship: the playbook and the extra vars that make it."""

    name: str
    playbook: str
    extra_vars: dict[str, Any]


def api_token(label: str) -> tuple[int, str]:
    """A project with a tree and a bearer token, made on the first app host (never logged)."""
    tree = json.dumps(json.dumps(ahsp_testing.TREE))
    script = (
        "import json; "
        "from django.contrib.auth import get_user_model; "
        "from detail_project.models import Project; "
        "from detail_project.tree import parse_tree, replace_tree; "
        "user = get_user_model().objects.get(username='admin'); "
        "project, _ = Project.objects.get_or_create(owner=user, name='bench day-2'); "
        f"replace_tree(project, parse_tree(json.loads({tree}))); "
        "print(project.pk)"
    )
    out = docker_exec(APP_HOSTS[0], ["ahsp-manage", "shell", "--no-imports", "-c", script])
    project_id = int(out.strip().splitlines()[-1])
    token = (
        docker_exec(APP_HOSTS[0], ["ahsp-manage", "create_api_token", "admin", "--name", label])
        .strip()
        .splitlines()[-1]
    )
    return project_id, token


def _served(address: str) -> str:
    """The release id the host's /health/ reports ("" when it does not answer 200)."""
    conn = http.client.HTTPConnection(address, APP_PORT, timeout=10)
    try:
        conn.request("GET", HEALTH_PATH, headers={"Host": HOST_HEADER})
        response = conn.getresponse()
        body = response.read()
        return str(json.loads(body).get("version", "")) if response.status == 200 else ""
    except (OSError, ValueError, http.client.HTTPException):
        return ""
    finally:
        conn.close()


def _redis_pid() -> str:
    return docker_exec(
        REDIS_HOST, ["systemctl", "show", "-p", "MainPID", "--value", "redis-server"]
    ).strip()


def _pg(sql: str) -> str:
    return docker_exec(DB_HOST, ["sh", "-c", PG_SQL.format(shlex.quote(sql))]).strip()


def _pg_started() -> str:
    return _pg("SELECT pg_postmaster_start_time()")


def load_figures(summary: ahsp_load.Summary, quiet_p99_ms: float | None) -> LoadFigures:
    """An ahsp_load.Summary as figures; the p99 against the quiet one when given."""
    answers = summary.answers
    span = (max(a.started for a in answers) - min(a.started for a in answers)) if answers else 0
    p99 = round(summary.percentile(0.99) * 1000, 1)
    return LoadFigures(
        sent=summary.sent,
        failed=len(summary.failures),
        statuses={str(k): v for k, v in sorted(summary.statuses().items())},
        requests_per_second=round(summary.sent / span, 1) if span > 0 else 0.0,
        seconds=round(span, 1),
        p50_ms=round(summary.percentile(0.50) * 1000, 1),
        p99_ms=p99,
        p99_vs_quiet=round(p99 / quiet_p99_ms, 2) if quiet_p99_ms else 1.0,
        first_failures=[
            f"{a.url.split(f':{APP_PORT}', 1)[-1]} -> {a.status} {a.error}"[:200]
            for a in summary.failures[:5]
        ],
    )


class Traffic:
    """The bounded load on both app hosts, started around each action."""

    def __init__(self, addresses: list[str], project_id: int, token: str) -> None:
        tree = TREE_PATH.format(project_id)
        self.urls = [f"http://{a}:{APP_PORT}{p}" for a in addresses for p in (HEALTH_PATH, tree)]
        self.headers = {"Authorization": f"Bearer {token}"}

    def around(self, action: Callable[[], Outcome]) -> tuple[ahsp_load.Summary, Outcome]:
        """Run `action` with SETTLE seconds of load before and after; (summary, its outcome)."""
        with ahsp_load.Load(
            self.urls,
            rate=RATE,
            host_header=HOST_HEADER,
            headers=self.headers,
            max_seconds=LOAD_MAX_SECONDS,
        ) as load:
            time.sleep(SETTLE)
            try:
                outcome = action()
            finally:
                time.sleep(SETTLE)
        return load.summary, outcome


def app_copies(work: Path) -> tuple[Path, Path]:
    """Two changed copies of app/: one more module; that and a changed requirements.txt."""
    code = ahsp_testing.copy_app(work / "code")
    module = code / "detail_project" / "bench_day2.py"
    module.write_text('"""A code change shipped by make bench."""\n')
    requirements = ahsp_testing.copy_app(work / "requirements")
    (requirements / "detail_project" / "bench_day2.py").write_text(module.read_text())
    lock = requirements / "requirements.txt"
    lock.write_text(lock.read_text() + "# a requirements change: new lock, new venv\n")
    return code, requirements


def steps(code: Path, requirements: Path) -> list[Step]:
    """The seven changes, each repeating the values of the earlier ones it must not undo."""
    code_vars = {**LIMIT, "app_source_dir": str(code)}
    req_vars = {**LIMIT, "app_source_dir": str(requirements)}
    env_vars = {**req_vars, "app_log_level": "WARNING"}
    redis_vars = {**env_vars, "redis_maxmemory": REDIS_MAXMEMORY}
    pg_vars = {**redis_vars, "postgresql_extra_config": {"work_mem": PG_WORK_MEM}}
    return [
        Step("code change (reload)", "site.yml", code_vars),
        Step("requirements change (restart, socket held)", "site.yml", req_vars),
        Step("environment change (reload)", "site.yml", env_vars),
        Step("Redis run-time setting (CONFIG SET)", "site.yml", redis_vars),
        Step("PostgreSQL reloadable setting (reload)", "site.yml", pg_vars),
        Step("rollback to the previous release", "playbooks/rollback.yml", pg_vars),
        Step("back to the inventory", "site.yml", LIMIT),
    ]


def ship(step: Step, traffic: Traffic, addresses: list[str], quiet_p99_ms: float) -> Day2Step:
    """One step's playbook run under load, and the releases served after it."""
    summary, run = traffic.around(
        lambda: provision.run_playbook(
            f"day-2 {step.name}",
            step.playbook,
            "-e",
            json.dumps(step.extra_vars),
            timeout=PLAYBOOK_TIMEOUT,
        )
    )
    shipped = Day2Step(
        name=step.name,
        playbook=step.playbook,
        extra_vars={
            k: (Path(v).parent.name if k == "app_source_dir" else v)
            for k, v in step.extra_vars.items()
        },
        playbook_seconds=run.seconds,
        changed=run.changed,
        load=load_figures(summary, quiet_p99_ms),
        served_releases=[_served(a) for a in addresses],
    )
    log(
        f"day-2 {step.name}: {shipped.load.sent} sent, {shipped.load.failed} failed,"
        f" p99 {shipped.load.p99_ms} ms, changed={run.changed}"
    )
    return shipped


def zero_downtime(operator: redis.Redis) -> Day2Figures:
    """The quiet baseline and the seven steps; `operator` reads Redis' settings after its step."""
    addresses = [container_ip(host) for host in APP_HOSTS]
    traffic = Traffic(addresses, *api_token(f"bench-{int(time.time())}"))
    log(f"day-2: quiet baseline, {QUIET_SECONDS:.0f} s at {RATE:.0f} requests/s")
    quiet_summary, _ = traffic.around(lambda: time.sleep(QUIET_SECONDS))
    quiet = load_figures(quiet_summary, None)
    releases_before = [_served(a) for a in addresses]
    redis_pid, pg_started = _redis_pid(), _pg_started()
    work = Path(tempfile.mkdtemp(prefix="ahsp-bench-day2-"))
    shipped: list[Day2Step] = []
    redis_setting: RedisSettingCheck | None = None
    postgresql_setting: PostgresqlSettingCheck | None = None
    try:
        for step in steps(*app_copies(work)):
            shipped.append(ship(step, traffic, addresses, quiet.p99_ms))
            if step.name.startswith("Redis"):
                redis_setting = redis_check(operator, redis_pid)
            if step.name.startswith("PostgreSQL"):
                postgresql_setting = postgresql_check(pg_started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if redis_setting is None or postgresql_setting is None:
        raise BenchError("day-2: the Redis or the PostgreSQL step did not run")
    return Day2Figures(
        requests_per_second=RATE,
        paths_per_host=[HEALTH_PATH, TREE_PATH.format("<id>") + " (bearer token)"],
        hosts=list(APP_HOSTS),
        settle_seconds=SETTLE,
        quiet=quiet,
        steps=shipped,
        redis_setting=redis_setting,
        postgresql_setting=postgresql_setting,
        releases_before=releases_before,
    )


def redis_check(operator: redis.Redis, pid_before: str) -> RedisSettingCheck:
    """After the Redis step: its maxmemory in force, and the server's PID then."""
    return RedisSettingCheck(
        maxmemory_after=int(operator.config_get("maxmemory")["maxmemory"]),
        maxmemory_wanted=REDIS_MAXMEMORY_BYTES,
        pid_before=pid_before,
        pid_after=_redis_pid(),
    )


def postgresql_check(started_before: str) -> PostgresqlSettingCheck:
    """After the PostgreSQL step: its work_mem in force, and the server's start time then."""
    return PostgresqlSettingCheck(
        work_mem_after=_pg("SHOW work_mem"),
        work_mem_wanted=PG_WORK_MEM,
        started_before=started_before,
        started_after=_pg_started(),
    )
