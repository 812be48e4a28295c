"""The no-op floor and each role's no-op re-run on its own, as a multiple of that floor.

A no-op re-run is what an operator pays for every routine run of a
converged stack; measured against a floor from the same run, the figure
holds still when the machine is faster or slower, and says how much of the
run is the role's own checking rather than Ansible starting and gathering
facts.

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
  host at a time, as playbooks/app.yml rolls it out);
- `nginx`: playbooks/web.yml (the preflight for the front, then the role).

Floor and roles run interleaved in rounds (floor of a host set, then the
roles on those hosts), and each role's multiple of the floor is the median of
its per-round ratios.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import provision
import yaml
from common import ROOT, BenchError, log
from provision import PlaybookRun, Share

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
    """How an operator re-runs one role alone, and the most it may cost."""

    role: str
    group: str  # the inventory group whose hosts it runs on
    playbook: str
    extra: tuple[str, ...] = ()
    # The most its no-op re-run may take, as a multiple of the floor on the
    # same hosts: what a routine re-run of a converged stack may cost beyond
    # Ansible's own start-up and fact gathering.
    target: float = 4.0


# The redis role's no-op re-run is held closer to the floor than the other
# roles' (4 x): at most twice what a run that does nothing costs.
REDIS_TARGET_FLOOR_MULTIPLE = 2.0

ROLE_RUNS = (
    RoleRun("redis", "redis", "playbooks/redis.yml", target=REDIS_TARGET_FLOOR_MULTIPLE),
    RoleRun("postgresql", "db", "playbooks/db.yml"),
    RoleRun("app", "app", ROLE_PLAYBOOK, ("-e", "bench_role=app")),
    RoleRun("static_files", "app", ROLE_PLAYBOOK, ("-e", "bench_role=static_files")),
    RoleRun(
        "gunicorn_systemd",
        "app",
        ROLE_PLAYBOOK,
        ("-e", "bench_role=gunicorn_systemd", "-e", "bench_serial=1"),
    ),
    RoleRun("nginx", "web", "playbooks/web.yml"),
)
GROUPS = ("redis", "db", "app", "web")
FULL_STACK = "redis:db:app:web"


def _tasks(tasks: list[Any] | None) -> Iterator[dict[str, Any]]:
    """Every task of a task list, blocks flattened (block, rescue, always)."""
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        if "block" in task:
            for part in ("block", "rescue", "always"):
                yield from _tasks(task.get(part))
        else:
            yield task


def _action(task: dict[str, Any]) -> str | None:
    return next((key for key in task if key in SETUP_ACTIONS + IMPORT_ACTIONS), None)


def fact_tasks(preflight: Path = PREFLIGHT) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The preflight's play-level fact settings and its fact-gathering tasks.

    An imported task file counts when its name says facts (tasks/peer_facts.yml);
    its path is made absolute, since the floor playbook lives elsewhere.
    """
    plays = yaml.safe_load(preflight.read_text()) or []
    play_settings: dict[str, Any] = {}
    found: list[dict[str, Any]] = []
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


def floor_playbook(preflight: Path = PREFLIGHT) -> list[dict[str, Any]]:
    """The floor as a playbook: the preflight's fact gathering, then one no-op task."""
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
    """The floor playbook written where ansible-playbook can run it."""
    path = directory / "floor.yml"
    path.write_text("---\n" + yaml.safe_dump(floor_playbook(), sort_keys=False))
    return path


def _hosts_extra(hosts: str) -> tuple[str, ...]:
    return ("-e", json.dumps({"bench_hosts": hosts}))


@dataclass(frozen=True)
class FloorFigures:
    """The floor on one set of hosts, over every round."""

    hosts: str  # the inventory pattern (FULL_STACK: every host)
    median_seconds: float
    seconds_per_round: list[float]
    host_results: int  # task x host results (last round)
    module_runs: int  # module executions (last round)
    max_changed: int  # the most `changed` of any round: 0 for a floor that changes nothing


@dataclass(frozen=True)
class RoleAloneFigures:
    """One role's no-op re-run on its own, against the floor on the same hosts."""

    role: str
    group: str  # the inventory group whose hosts it ran on
    playbook: str
    median_seconds: float
    seconds_per_round: list[float]
    floor_seconds: float  # the median floor on the same hosts
    floor_multiple: float  # median over rounds of (role alone s / that round's floor s)
    floor_multiple_per_round: list[float]
    target_floor_multiple: float  # the most floor_multiple may be
    max_changed: int  # the most `changed` of any round: 0 for a no-op re-run
    host_results: int  # the whole playbook's task x host results (last round)
    module_runs: int  # the whole playbook's module executions (last round)
    role_tasks_per_host: float  # the role's own task results per host
    role_module_runs_per_host: float
    role_seconds: float  # the role's own time in the run (profile_roles)
    plays: list[Share]

    @property
    def target_met(self) -> bool:
        """Whether the role's re-run stays within its multiple of the floor."""
        return self.floor_multiple <= self.target_floor_multiple


@dataclass(frozen=True)
class NoopFigures:
    """The no-op section: floors per host set and each role alone."""

    rounds: int
    floors: list[FloorFigures]  # the full stack first, then each group
    roles: list[RoleAloneFigures]  # in ROLE_RUNS order

    def floor(self, hosts: str) -> FloorFigures:
        """The floor measured on the host set `hosts` (an inventory pattern)."""
        return next(f for f in self.floors if f.hosts == hosts)


def noop_figures(rounds: int) -> NoopFigures:
    """Floors and role re-runs, `rounds` times interleaved; every run must change nothing."""
    floor_runs, role_runs = _rounds(rounds)
    floors = [_floor_figures(hosts, runs) for hosts, runs in floor_runs.items()]
    by_hosts = {f.hosts: f for f in floors}
    roles = []
    for role in ROLE_RUNS:
        figures = _role_figures(
            role, role_runs[role.role], floor_runs[role.group], by_hosts[role.group]
        )
        log(
            f"{role.role} alone: {figures.median_seconds} s, {figures.floor_multiple} x floor"
            f" ({figures.floor_seconds} s)"
        )
        roles.append(figures)
    return NoopFigures(rounds=rounds, floors=floors, roles=roles)


def _rounds(rounds: int) -> tuple[dict[str, list[PlaybookRun]], dict[str, list[PlaybookRun]]]:
    """Every round: the floor of each host set, then the roles on those hosts."""
    floors: dict[str, list[PlaybookRun]] = {FULL_STACK: [], **{g: [] for g in GROUPS}}
    roles: dict[str, list[PlaybookRun]] = {r.role: [] for r in ROLE_RUNS}
    with tempfile.TemporaryDirectory(prefix="ahsp-bench-floor-") as tmp:
        floor = str(write_floor(Path(tmp)))
        for index in range(rounds):
            log(f"no-op round {index + 1}/{rounds}: floors and each role alone")
            for hosts, runs in floors.items():
                runs.append(
                    provision.run_playbook(
                        f"floor {hosts}", floor, *_hosts_extra(hosts), quiet=True
                    )
                )
                for role in (r for r in ROLE_RUNS if r.group == hosts):
                    roles[role.role].append(
                        provision.run_playbook(
                            f"{role.role} alone", role.playbook, *role.extra, quiet=True
                        )
                    )
    return floors, roles


def _floor_figures(hosts: str, runs: list[PlaybookRun]) -> FloorFigures:
    return FloorFigures(
        hosts=hosts,
        median_seconds=round(statistics.median(r.seconds for r in runs), 2),
        seconds_per_round=[r.seconds for r in runs],
        host_results=runs[-1].host_results,
        module_runs=runs[-1].modules,
        max_changed=max(r.changed for r in runs),
    )


def _role_figures(
    role: RoleRun, runs: list[PlaybookRun], floor_runs: list[PlaybookRun], floor: FloorFigures
) -> RoleAloneFigures:
    """A role's figures: each round's run against the same round's floor."""
    ratios = [r.seconds / f.seconds for r, f in zip(runs, floor_runs, strict=True)]
    last = runs[-1]
    own = next((s for s in last.roles if s.name == role.role), None)
    hosts = max(1, own.hosts if own else 1)
    return RoleAloneFigures(
        role=role.role,
        group=role.group,
        playbook=role.playbook,
        median_seconds=round(statistics.median(r.seconds for r in runs), 2),
        seconds_per_round=[r.seconds for r in runs],
        floor_seconds=floor.median_seconds,
        floor_multiple=round(statistics.median(ratios), 2),
        floor_multiple_per_round=[round(x, 2) for x in ratios],
        target_floor_multiple=role.target,
        max_changed=max(r.changed for r in runs),
        host_results=last.host_results,
        module_runs=last.modules,
        role_tasks_per_host=round(own.tasks / hosts, 1) if own else 0.0,
        role_module_runs_per_host=round(own.modules / hosts, 1) if own else 0.0,
        role_seconds=own.seconds if own else 0.0,
        plays=last.plays,
    )
