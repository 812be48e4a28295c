"""Provisioning figures: time whole ansible-playbook runs and say where the time goes.

Each run uses the `ansible.posix.json` stdout callback, so per-task wall time
comes from Ansible itself (task start to the last host's result) instead of
from scraping human-readable output. The JSON never leaves this process:
no_log results are already censored in it, and only names, counts and
durations are kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime

from common import (
    ALL_HOSTS,
    APP_HOSTS,
    DB_HOST,
    GUNICORN_SERVICE,
    INVENTORY,
    REDIS_HOST,
    ROOT,
    BenchError,
    docker_exec,
    log,
)

PLAYBOOK_TIMEOUT = 1800


@dataclass
class TaskTime:
    name: str
    seconds: float
    runs: int  # how many times a task of this name ran (plays, loops of plays, handlers)


@dataclass
class PlaybookRun:
    label: str
    playbook: str
    seconds: float
    changed: int
    ok: int
    failed: int
    tasks_seconds: float  # sum of task wall times
    host_results: int = 0  # task x host results (loop items count once)
    host_skipped: int = 0
    slowest: list[TaskTime] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.rstrip("Z"))


def _host_results(report: dict) -> tuple[int, int]:
    """(results, skipped): how many task x host results the run produced."""
    results = skipped = 0
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for result in task.get("hosts", {}).values():
                results += 1
                skipped += bool(result.get("skipped"))
    return results, skipped


def _task_times(report: dict) -> tuple[float, list[TaskTime]]:
    totals: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration", {})
            if "end" not in duration:
                continue
            seconds = (_when(duration["end"]) - _when(duration["start"])).total_seconds()
            totals[task["task"]["name"]] += seconds
            runs[task["task"]["name"]] += 1
    ranked = sorted(totals, key=totals.__getitem__, reverse=True)
    return sum(totals.values()), [
        TaskTime(name, round(totals[name], 2), runs[name]) for name in ranked
    ]


def _failure_summary(report: dict) -> str:
    lines = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("failed") or result.get("unreachable"):
                    lines.append(
                        f"{host}: {task['task']['name']}: {str(result.get('msg', ''))[:300]}"
                    )
    return "\n".join(lines[-5:])


def _json_report(stdout: str) -> dict:
    """The callback's JSON document: it starts at the first line that opens an object."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    report, _end = json.JSONDecoder().raw_decode(stdout, start)
    return report


def run_playbook(label: str, playbook: str, *extra: str, top: int = 12) -> PlaybookRun:
    """Run one playbook against inventories/bench and return its timings."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        # Not profile_tasks (ansible.cfg): it prints around every task. The
        # timer's one line after the report is skipped by _json_report.
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer",
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = ["ansible-playbook", "-i", str(INVENTORY), playbook, *extra]
    log(f"{label}: {' '.join(argv[1:])}")
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    try:
        report = _json_report(proc.stdout)
    except (json.JSONDecodeError, ValueError) as exc:
        raise BenchError(
            f"{label}: no JSON report (rc {proc.returncode}): {proc.stderr.strip()[-800:]}"
        ) from exc
    stats = report.get("stats", {})
    failed = sum(s.get("failures", 0) + s.get("unreachable", 0) for s in stats.values())
    if proc.returncode != 0 or failed:
        raise BenchError(
            f"{label}: ansible-playbook failed (rc {proc.returncode}):\n{_failure_summary(report)}"
        )
    tasks_seconds, ranked = _task_times(report)
    host_results, host_skipped = _host_results(report)
    run = PlaybookRun(
        label=label,
        playbook=playbook,
        seconds=round(seconds, 1),
        changed=sum(s.get("changed", 0) for s in stats.values()),
        ok=sum(s.get("ok", 0) for s in stats.values()),
        failed=failed,
        tasks_seconds=round(tasks_seconds, 1),
        host_results=host_results,
        host_skipped=host_skipped,
        slowest=ranked[:top],
    )
    log(f"{label}: {run.seconds} s, changed={run.changed}")
    return run


# Drift on every tier, each of a kind the playbook must repair: an edited
# config file, a loosened secret file, a removed drop-in, a stopped service.
DRIFT: list[tuple[str, list[str]]] = [
    (REDIS_HOST, ["sed", "-i", "s/^maxmemory .*/maxmemory 1mb/", "/etc/redis/redis.conf"]),
    (DB_HOST, ["sh", "-c", "rm -f /etc/postgresql/*/main/conf.d/ahsp.conf"]),
    (APP_HOSTS[0], ["chmod", "0644", "/etc/ahsp/secrets.env"]),
    (APP_HOSTS[0], ["sh", "-c", "echo \"LOG_LEVEL='DEBUG'\" >> /etc/ahsp/app.env"]),
    (APP_HOSTS[1], ["systemctl", "stop", GUNICORN_SERVICE]),
]


def introduce_drift() -> list[str]:
    applied = []
    for host, argv in DRIFT:
        docker_exec(host, argv)
        applied.append(f"{host}: {' '.join(argv)}")
    return applied


def containers(state: str) -> None:
    """Create (fresh) or remove the bench containers via playbooks/local-containers.yml."""
    argv = [
        "ansible-playbook",
        "-i",
        str(INVENTORY),
        "playbooks/local-containers.yml",
        "-e",
        f"local_state={state}",
    ]
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"containers {state}: {proc.stdout.strip()[-800:]}")
    log(f"containers {state}: {', '.join(ALL_HOSTS)}")
