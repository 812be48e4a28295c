"""Provisioning figures: time whole ansible-playbook runs and say where the time goes.

Every run uses Ansible's own profiling: the `ansible.posix.json` stdout
callback (per task: start and end, and each host's result with its action and
loop items) and `ansible.posix.profile_roles` (wall time per role, summary
only). From them the bench derives, per run:

- per play ("tier": preflight, redis, db, app install, app go-live): wall time,
  task results and module executions;
- per role: profile_roles' seconds, task results and module executions;
- per host: task results (skipped ones apart) and module executions;
- the slowest tasks.

A *module execution* is one module run on a host: a task result that was
not skipped, one per loop item that was not skipped, except the actions that
run on the controller only (set_fact, assert, include_role, check_inputs,
...). The JSON never leaves this process: no_log results are already
censored in it, and only names, counts and durations are kept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from common import ALL_HOSTS, INVENTORY, ROOT, BenchError, log

PLAYBOOK_TIMEOUT = 1800

# Actions that never send a module to the host (action plugins that work on
# the controller, and the strategy's own keywords).
CONTROLLER_ACTIONS = frozenset(
    {
        "add_host",
        "assert",
        "check_inputs",
        "debug",
        "fail",
        "group_by",
        "import_playbook",
        "import_role",
        "import_tasks",
        "include_role",
        "include_tasks",
        "include_vars",
        "meta",
        "pause",
        "set_fact",
        "set_stats",
        "validate_argument_spec",
    }
)
ROLE_IN_PATH = re.compile(r"/roles/(?P<role>[^/]+)/(?:tasks|handlers)/")
NO_ROLE = "(playbook tasks)"


@dataclass(frozen=True)
class TaskTime:
    """One task name's wall time in a run, summed over every time it ran."""

    name: str
    seconds: float
    runs: int  # how many times a task of this name ran (plays, batches, handlers)


@dataclass
class Share:
    """One row of a breakdown: a play, a role or a host."""

    name: str
    seconds: float = 0.0
    tasks: int = 0  # task x host results, skipped ones included
    skipped: int = 0
    modules: int = 0  # module executions (see the module docstring)
    hosts: int = 0
    batches: int = 0  # plays only: how many times the play ran (serial batches)


@dataclass(frozen=True)
class PlaybookRun:
    """One ansible-playbook run: its wall time, its recap and where the time went."""

    label: str
    playbook: str
    seconds: float  # wall time of the whole ansible-playbook process
    changed: int  # the recap's counts, summed over hosts
    ok: int
    failed: int  # failures and unreachable hosts (a run with any stops the bench)
    tasks_seconds: float  # sum of task wall times
    host_results: int = 0  # task x host results (a loop counts once)
    host_skipped: int = 0
    modules: int = 0  # module executions, all hosts
    extra_vars: list[str] = field(default_factory=list)
    slowest: list[TaskTime] = field(default_factory=list)
    plays: list[Share] = field(default_factory=list)
    roles: list[Share] = field(default_factory=list)
    hosts: list[Share] = field(default_factory=list)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.rstrip("Z"))


def _seconds(duration: dict) -> float:
    if "end" not in duration or "start" not in duration:
        return 0.0
    return (_when(duration["end"]) - _when(duration["start"])).total_seconds()


def _action(result: dict) -> str:
    return str(result.get("action", "")).rsplit(".", 1)[-1]


def module_executions(result: dict) -> int:
    """Modules one task result ran on its host (0 when skipped or controller-only)."""
    if result.get("skipped") or _action(result) in CONTROLLER_ACTIONS:
        return 0
    items = result.get("results")
    if isinstance(items, list):
        return sum(1 for item in items if isinstance(item, dict) and not item.get("skipped"))
    return 1


def task_role(task: dict) -> str:
    """The role a task comes from (its file under roles/<name>/), else NO_ROLE."""
    match = ROLE_IN_PATH.search(str(task.get("path", "")))
    if match:
        return match["role"]
    name = str(task.get("name", ""))
    return name.split(" : ", 1)[0] if " : " in name else NO_ROLE


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
            totals[task["task"]["name"]] += _seconds(duration)
            runs[task["task"]["name"]] += 1
    ranked = sorted(totals, key=totals.__getitem__, reverse=True)
    return sum(totals.values()), [
        TaskTime(name, round(totals[name], 2), runs[name]) for name in ranked
    ]


def breakdown(report: dict, role_seconds: dict[str, float]) -> dict[str, list[Share]]:
    """Per play, per role and per host: counts from the json callback; role seconds
    from profile_roles when it reported them, else the summed task times.
    """
    plays: dict[str, Share] = {}
    roles: dict[str, Share] = {}
    hosts: dict[str, Share] = {}
    role_hosts: dict[str, set[str]] = defaultdict(set)
    play_hosts: dict[str, set[str]] = defaultdict(set)
    role_task_seconds: dict[str, float] = defaultdict(float)
    for play in report.get("plays", []):
        name = play["play"].get("name", "")
        row = plays.setdefault(name, Share(name))
        row.batches += 1
        row.seconds += _seconds(play["play"].get("duration", {}))
        for task in play.get("tasks", []):
            role = task_role(task["task"])
            role_row = roles.setdefault(role, Share(role))
            role_task_seconds[role] += _seconds(task["task"].get("duration", {}))
            for host, result in task.get("hosts", {}).items():
                modules = module_executions(result)
                skipped = int(bool(result.get("skipped")))
                host_row = hosts.setdefault(host, Share(host, hosts=1))
                for target in (row, role_row, host_row):
                    target.tasks += 1
                    target.skipped += skipped
                    target.modules += modules
                role_hosts[role].add(host)
                play_hosts[name].add(host)
    for name, row in plays.items():
        row.hosts = len(play_hosts[name])
        row.seconds = round(row.seconds, 2)
    for role, row in roles.items():
        row.hosts = len(role_hosts[role])
        row.seconds = round(role_seconds.get(role, role_task_seconds[role]), 2)
    ordered_roles = sorted(roles.values(), key=lambda r: (r.name == NO_ROLE, -r.seconds))
    return {
        "plays": list(plays.values()),
        "roles": ordered_roles,
        "hosts": sorted(hosts.values(), key=lambda h: h.name),
    }


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


def _json_report(stdout: str) -> tuple[dict, str]:
    """The callback's JSON document (it starts at the first line that opens an object),
    and the text around it (the other callbacks' summaries).
    """
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    report, end = json.JSONDecoder().raw_decode(stdout, start)
    return report, stdout[:start] + stdout[end:]


# profile_roles' summary lines: "<role or action> ------...------ 12.34s".
ROLE_LINE = re.compile(r"^(?P<name>\S+) -[- ]*?(?P<seconds>\d+(?:\.\d+)?)s\s*$")


def profile_roles(text: str) -> dict[str, float]:
    """Seconds per role from ansible.posix.profile_roles' summary (after "ROLES RECAP").

    Tasks outside any role are keyed by their action there; they are summed
    into NO_ROLE, as in the json breakdown. The "total" line is dropped.
    """
    if "ROLES RECAP" not in text:
        return {}
    seconds: dict[str, float] = defaultdict(float)
    for line in text.split("ROLES RECAP", 1)[1].splitlines():
        match = ROLE_LINE.match(line.strip())
        if not match or match["name"] == "total":
            continue
        name = match["name"]
        key = NO_ROLE if "." in name else name  # actions are FQCNs (ansible.builtin.x)
        seconds[key] += float(match["seconds"])
    return dict(seconds)


def callback_env() -> dict[str, str]:
    """ansible-playbook's environment: the JSON callback on stdout, profile_roles after it."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        # Not profile_tasks (ansible.cfg): it prints around every task.
        # profile_roles prints its summary only; it and the timer's one line
        # come after the JSON document, which _json_report separates.
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer,ansible.posix.profile_roles",
        "PROFILE_ROLES_SUMMARY_ONLY": "true",
        "ANSIBLE_NOCOLOR": "1",
    }


def run_playbook(
    label: str,
    playbook: str,
    *extra: str,
    top: int = 12,
    quiet: bool = False,
    timeout: float = PLAYBOOK_TIMEOUT,
) -> PlaybookRun:
    """Run one playbook against inventories/bench and return its timings and breakdown.

    A failed run (or a host unreachable) stops the bench: its figures would
    time a different amount of work.
    """
    argv = ["ansible-playbook", "-i", str(INVENTORY), playbook, *extra]
    if not quiet:
        log(f"{label}: {' '.join(argv[3:])}")
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=callback_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    report, rest = _checked_report(label, proc)
    run = _playbook_run(label, playbook, extra, seconds, report, rest, top)
    if not quiet:
        log(f"{label}: {run.seconds} s, changed={run.changed}, {run.modules} module executions")
    return run


def _checked_report(label: str, proc: subprocess.CompletedProcess[str]) -> tuple[dict, str]:
    """The json callback's document of a run that succeeded on every host, and the text
    around it; BenchError otherwise.
    """
    try:
        report, rest = _json_report(proc.stdout)
    except (json.JSONDecodeError, ValueError) as exc:
        raise BenchError(
            f"{label}: no JSON report (rc {proc.returncode}): {proc.stderr.strip()[-800:]}"
        ) from exc
    stats = report.get("stats", {})
    failed = sum(s.get("failures", 0) + s.get("unreachable", 0) for s in stats.values())
    if proc.returncode != 0 or failed:
        raise BenchError(
            f"{label}: ansible-playbook failed (rc {proc.returncode}):\n{_failure_summary(report)}"
            f"\n{proc.stderr.strip()[-500:]}"
        )
    return report, rest


def _playbook_run(
    label: str,
    playbook: str,
    extra: tuple[str, ...],
    seconds: float,
    report: dict,
    rest: str,
    top: int,
) -> PlaybookRun:
    stats = report.get("stats", {}).values()
    tasks_seconds, ranked = _task_times(report)
    host_results, host_skipped = _host_results(report)
    shares = breakdown(report, profile_roles(rest))
    return PlaybookRun(
        label=label,
        playbook=playbook,
        seconds=round(seconds, 1),
        changed=sum(s.get("changed", 0) for s in stats),
        ok=sum(s.get("ok", 0) for s in stats),
        failed=sum(s.get("failures", 0) + s.get("unreachable", 0) for s in stats),
        tasks_seconds=round(tasks_seconds, 1),
        host_results=host_results,
        host_skipped=host_skipped,
        modules=sum(h.modules for h in shares["hosts"]),
        extra_vars=[x for x in extra if x != "-e"],
        slowest=ranked[:top],
        **shares,
    )


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
