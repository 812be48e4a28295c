"""The no-op floor and each role's no-op re-run on its own (issue 14, items 1 and 2).

The floor is what any run of these playbooks pays before a role does
anything: ansible-playbook starting (inventory, vars plugins, connection
set-up), the same fact gathering as the preflight, and one no-op task
(`ansible.builtin.ping`, with become, as the roles' tasks run). It is
derived from playbooks/preflight.yml at run time, so it stays "the same fact
gathering" when the preflight changes: every `setup`/`gather_facts` task of
the preflight and every task file it imports for facts (peer facts) is
copied into the floor's one play, with the preflight's own play-level
fact-gathering settings.

Each role then runs alone, no-op (the stack is converged), on its tier's
hosts, the way an operator re-runs it:

- `redis`: playbooks/redis.yml; `postgresql`: playbooks/db.yml (each the
  preflight for its hosts, then the role);
- `app`, `static_files`, `gunicorn_systemd`: bench/playbooks/role.yml (the
  preflight for the app hosts, then the role alone; gunicorn_systemd one
  host at a time, as playbooks/app.yml rolls it out).

Floor and roles run interleaved in rounds (floor of a host set, then the
roles on those hosts), and each role's multiple of the floor is the median of
its per-round ratios.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import provision
import yaml
from common import ROOT, BenchError, log

PREFLIGHT = ROOT / "playbooks" / "preflight.yml"
ROLE_PLAYBOOK = "bench/playbooks/role.yml"
SETUP_ACTIONS = ("ansible.builtin.setup", "setup", "ansible.builtin.gather_facts", "gather_facts")
IMPORT_ACTIONS = (
    "ansible.builtin.import_tasks",
    "import_tasks",
    "ansible.builtin.include_tasks",
    "include_tasks",
)
PLAY_FACT_KEYS = ("gather_facts", "gather_subset", "gather_timeout", "fact_path")


@dataclass(frozen=True)
class RoleRun:
    role: str
    group: str  # the inventory group whose hosts it runs on
    playbook: str
    extra: tuple[str, ...] = ()
    target: float = 4.0  # issue 14: redis <= 3 x floor, every other role <= 4 x floor


ROLE_RUNS = (
    RoleRun("redis", "redis", "playbooks/redis.yml", target=3.0),
    RoleRun("postgresql", "db", "playbooks/db.yml"),
    RoleRun("app", "app", ROLE_PLAYBOOK, ("-e", "bench_role=app")),
    RoleRun("static_files", "app", ROLE_PLAYBOOK, ("-e", "bench_role=static_files")),
    RoleRun(
        "gunicorn_systemd",
        "app",
        ROLE_PLAYBOOK,
        ("-e", "bench_role=gunicorn_systemd", "-e", "bench_serial=1"),
    ),
)
GROUPS = ("redis", "db", "app")
FULL_STACK = "redis:db:app"


def _tasks(tasks: list[Any] | None):
    """Every task of a task list, blocks flattened (block, rescue, always)."""
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if "block" in task:
            for part in ("block", "rescue", "always"):
                yield from _tasks(task.get(part))
        else:
            yield task


def _action(task: dict) -> str | None:
    return next((key for key in task if key in SETUP_ACTIONS + IMPORT_ACTIONS), None)


def fact_tasks(preflight: Path = PREFLIGHT) -> tuple[dict, list[dict]]:
    """The preflight's play-level fact settings and its fact-gathering tasks.

    An imported task file counts when its name says facts (tasks/peer_facts.yml);
    its path is made absolute, since the floor playbook lives elsewhere.
    """
    plays = yaml.safe_load(preflight.read_text()) or []
    play_settings: dict = {}
    found: list[dict] = []
    for play in plays:
        if not isinstance(play, dict) or "hosts" not in play:
            continue
        for key in PLAY_FACT_KEYS:
            if key in play:
                play_settings.setdefault(key, play[key])
        for section in ("pre_tasks", "tasks", "post_tasks"):
            for task in _tasks(play.get(section)):
                action = _action(task)
                if action is None:
                    continue
                if action in IMPORT_ACTIONS:
                    target = task[action]
                    target = target.get("file") if isinstance(target, dict) else target
                    if "fact" not in str(target):
                        continue
                    path = (preflight.parent / str(target)).resolve()
                    task = {**task, action: str(path)}
                copied = {k: v for k, v in task.items() if k not in ("when", "tags")}
                found.append(copied)
    if not found and not play_settings.get("gather_facts"):
        raise BenchError(f"{preflight}: no fact gathering found to build the floor from")
    return play_settings, found


def floor_playbook(preflight: Path = PREFLIGHT) -> list[dict]:
    settings, facts = fact_tasks(preflight)
    play = {
        "name": "Floor - the preflight's fact gathering and one no-op task",
        "hosts": "{{ bench_hosts }}",
        "gather_facts": False,
        "become": False,
        **settings,
        "tasks": [
            *facts,
            {"name": "Floor | One no-op task", "ansible.builtin.ping": None, "become": True},
        ],
    }
    return [play]


def write_floor(directory: Path) -> Path:
    path = directory / "floor.yml"
    path.write_text("---\n" + yaml.safe_dump(floor_playbook(), sort_keys=False))
    return path


def _hosts_extra(hosts: str) -> tuple[str, ...]:
    return ("-e", json.dumps({"bench_hosts": hosts}))


def noop_figures(rounds: int) -> dict:
    """Floors and role re-runs, `rounds` times interleaved; every run must change nothing."""
    floors: dict[str, list[dict]] = {FULL_STACK: [], **{g: [] for g in GROUPS}}
    roles: dict[str, list[dict]] = {r.role: [] for r in ROLE_RUNS}
    with tempfile.TemporaryDirectory(prefix="ahsp-bench-floor-") as tmp:
        floor = str(write_floor(Path(tmp)))
        for index in range(rounds):
            log(f"no-op round {index + 1}/{rounds}: floors and each role alone")
            for hosts in floors:
                run = provision.run_playbook(
                    f"floor {hosts}", floor, *_hosts_extra(hosts), quiet=True
                )
                floors[hosts].append(run.as_dict())
                for role in (r for r in ROLE_RUNS if r.group == hosts):
                    run = provision.run_playbook(
                        f"{role.role} alone", role.playbook, *role.extra, quiet=True
                    )
                    roles[role.role].append(run.as_dict())
    result: dict = {"rounds": rounds, "floor": {}, "roles": {}}
    for hosts, runs in floors.items():
        result["floor"][hosts] = {
            "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
            "runs": [r["seconds"] for r in runs],
            "modules": runs[-1]["modules"],
            "host_results": runs[-1]["host_results"],
            "changed": max(r["changed"] for r in runs),
        }
    for role in ROLE_RUNS:
        runs = roles[role.role]
        floor_runs = floors[role.group]
        ratios = [r["seconds"] / f["seconds"] for r, f in zip(runs, floor_runs, strict=True)]
        last = runs[-1]
        own = next((s for s in last["roles"] if s["name"] == role.role), None)
        hosts = max(1, own["hosts"] if own else 1)
        result["roles"][role.role] = {
            "group": role.group,
            "playbook": role.playbook,
            "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
            "runs": [r["seconds"] for r in runs],
            "floor_seconds": result["floor"][role.group]["seconds"],
            "x_floor": round(statistics.median(ratios), 2),
            "x_floor_runs": [round(x, 2) for x in ratios],
            "target_x_floor": role.target,
            "changed": max(r["changed"] for r in runs),
            "host_results": last["host_results"],
            "modules": last["modules"],
            "role_tasks_per_host": round(own["tasks"] / hosts, 1) if own else 0,
            "role_modules_per_host": round(own["modules"] / hosts, 1) if own else 0,
            "role_seconds": own["seconds"] if own else 0.0,
            "plays": last["plays"],
        }
        log(
            f"{role.role} alone: {result['roles'][role.role]['seconds']} s,"
            f" {result['roles'][role.role]['x_floor']} x floor"
            f" ({result['floor'][role.group]['seconds']} s)"
        )
    return result
