"""Day-2 changes under live traffic (issue 11, item 8): the bench's zero-downtime section.

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
with nothing shipping.
"""

from __future__ import annotations

import http.client
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import provision
import redis
from common import (
    APP_HOSTS,
    APP_PORT,
    DB_HOST,
    REDIS_HOST,
    ROOT,
    BenchError,
    container_ip,
    docker_exec,
    log,
)

RATE = 60.0  # requests/s in all (issue 11: at least 50, spread over every app host)
MIN_RATE = 50.0
QUIET_SECONDS = 10.0
SETTLE = 2.0
LOAD_MAX_SECONDS = 900.0  # ahsp_load's own cap
PLAYBOOK_TIMEOUT = 840
LIMIT = {"app_ratelimit_requests": 1000000}
HOST_HEADER = "localhost"  # always among the app's allowed hosts
PG_SQL = "runuser -u postgres -- psql -X -At -c {}"


def _lib():
    """tests/lib: the load generator and the app copy helper the Molecule tests use."""
    lib = str(ROOT / "tests" / "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    import ahsp_load
    import ahsp_testing

    return ahsp_load, ahsp_testing


def api_token(label: str) -> tuple[int, str]:
    """A project with a tree and a bearer token, made on the first app host (never logged)."""
    tree = _lib()[1].TREE
    script = (
        "import json; "
        "from django.contrib.auth import get_user_model; "
        "from detail_project.models import Project; "
        "from detail_project.tree import parse_tree, replace_tree; "
        "user = get_user_model().objects.get(username='admin'); "
        "project, _ = Project.objects.get_or_create(owner=user, name='bench day-2'); "
        f"replace_tree(project, parse_tree(json.loads({json.dumps(json.dumps(tree))}))); "
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
        conn.request("GET", "/health/", headers={"Host": HOST_HEADER})
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


def _figures(summary, quiet_p99_ms: float | None) -> dict:
    answers = summary.answers
    span = (max(a.started for a in answers) - min(a.started for a in answers)) if answers else 0
    p99 = round(summary.percentile(0.99) * 1000, 1)
    return {
        "sent": summary.sent,
        "failed": len(summary.failures),
        "statuses": {str(k): v for k, v in sorted(summary.statuses().items())},
        "rate": round(summary.sent / span, 1) if span > 0 else 0.0,
        "seconds": round(span, 1),
        "p50_ms": round(summary.percentile(0.50) * 1000, 1),
        "p99_ms": p99,
        "p99_x_quiet": round(p99 / quiet_p99_ms, 2) if quiet_p99_ms else 1.0,
        "first_failures": [
            f"{a.url.split(':8000', 1)[-1]} -> {a.status} {a.error}"[:200]
            for a in summary.failures[:5]
        ],
    }


def zero_downtime(operator: redis.Redis) -> dict:
    """The quiet baseline and the seven steps; returns the section's figures."""
    ahsp_load, ahsp_testing = _lib()
    addresses = [container_ip(host) for host in APP_HOSTS]
    project_id, token = api_token(f"bench-{int(time.time())}")
    tree = f"/api/project/{project_id}/list-pekerjaan/tree/"
    urls = [f"http://{a}:{APP_PORT}{path}" for a in addresses for path in ("/health/", tree)]
    headers = {"Authorization": f"Bearer {token}"}

    def under_load(action) -> tuple:
        with ahsp_load.Load(
            urls,
            rate=RATE,
            host_header=HOST_HEADER,
            headers=headers,
            max_seconds=LOAD_MAX_SECONDS,
        ) as load:
            time.sleep(SETTLE)
            try:
                outcome = action()
            finally:
                time.sleep(SETTLE)
        return load.summary, outcome

    work = Path(tempfile.mkdtemp(prefix="ahsp-bench-day2-"))
    try:
        code = ahsp_testing.copy_app(work / "code")
        module = code / "detail_project" / "bench_day2.py"
        module.write_text('"""A code change shipped by make bench."""\n')
        requirements = ahsp_testing.copy_app(work / "requirements")
        (requirements / "detail_project" / "bench_day2.py").write_text(module.read_text())
        lock = requirements / "requirements.txt"
        lock.write_text(lock.read_text() + "# a requirements change: new lock, new venv\n")

        code_vars = {**LIMIT, "app_source_dir": str(code)}
        req_vars = {**LIMIT, "app_source_dir": str(requirements)}
        env_vars = {**req_vars, "app_log_level": "WARNING"}
        redis_vars = {**env_vars, "redis_maxmemory": "200mb"}
        pg_vars = {**redis_vars, "postgresql_extra_config": {"work_mem": "16MB"}}
        steps = [
            ("code change (reload)", "site.yml", code_vars),
            ("requirements change (restart, socket held)", "site.yml", req_vars),
            ("environment change (reload)", "site.yml", env_vars),
            ("Redis run-time setting (CONFIG SET)", "site.yml", redis_vars),
            ("PostgreSQL reloadable setting (reload)", "site.yml", pg_vars),
            ("rollback to the previous release", "playbooks/rollback.yml", pg_vars),
            ("back to the inventory", "site.yml", LIMIT),
        ]

        log(f"day-2: quiet baseline, {QUIET_SECONDS:.0f} s at {RATE:.0f} requests/s")
        quiet, _ = under_load(lambda: time.sleep(QUIET_SECONDS))
        baseline = _figures(quiet, None)
        release_before = [_served(a) for a in addresses]
        redis_pid = _redis_pid()
        pg_started = _pg("SELECT pg_postmaster_start_time()")
        results = []
        checks: dict = {}
        for name, playbook, extra in steps:
            summary, run = under_load(
                lambda p=playbook, e=extra, n=name: provision.run_playbook(
                    f"day-2 {n}", p, "-e", json.dumps(e), timeout=PLAYBOOK_TIMEOUT
                )
            )
            step = {
                "step": name,
                "playbook": playbook,
                "extra_vars": {
                    k: (Path(v).parent.name if k == "app_source_dir" else v)
                    for k, v in extra.items()
                },
                "playbook_seconds": run.seconds,
                "changed": run.changed,
                **_figures(summary, baseline["p99_ms"]),
                "served": [_served(a) for a in addresses],
            }
            results.append(step)
            log(
                f"day-2 {name}: {step['sent']} sent, {step['failed']} failed,"
                f" p99 {step['p99_ms']} ms, changed={run.changed}"
            )
            if name.startswith("Redis"):
                checks["redis"] = {
                    "maxmemory_after": int(operator.config_get("maxmemory")["maxmemory"]),
                    "maxmemory_wanted": 200 * 1024 * 1024,
                    "pid_before": redis_pid,
                    "pid_after": _redis_pid(),
                }
            if name.startswith("PostgreSQL"):
                checks["postgresql"] = {
                    "work_mem_after": _pg("SHOW work_mem"),
                    "work_mem_wanted": "16MB",
                    "started_before": pg_started,
                    "started_after": _pg("SELECT pg_postmaster_start_time()"),
                }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    checks["release"] = {"before": release_before, "after": results[-1]["served"]}
    for check in ("redis", "postgresql"):
        if check not in checks:
            raise BenchError(f"day-2: the {check} step did not run")
    return {
        "rate": RATE,
        "urls_per_host": ["/health/", "/api/project/<id>/list-pekerjaan/tree/ (bearer token)"],
        "hosts": list(APP_HOSTS),
        "settle_seconds": SETTLE,
        "quiet": baseline,
        "steps": results,
        "checks": checks,
    }
