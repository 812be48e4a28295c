"""The report's provisioning sections: converge runs, the no-op re-run's breakdown, the floors."""

from __future__ import annotations

from converge import ConvergeFigures
from drift import DriftRepairFigures
from noop import NoopFigures, RoleAloneFigures
from provision import PlaybookRun, Share
from results import BenchResults
from tables import section, yes_no


def provisioning_tables(r: BenchResults, p: ConvergeFigures) -> list[str]:
    """Every provisioning section, the no-op ones from the full-stack re-run of `p`."""
    parts = [runs_table(r, p), tiers_table(p.noop_rerun), roles_table(p.noop_rerun, r.noop)]
    parts.append(hosts_table(p.noop_rerun))
    if r.noop:
        parts += floor_tables(r.noop, p.noop_rerun)
    parts.append(slowest_table(p.noop_rerun))
    if r.drift_repair and r.drift_repair.drifts:
        parts.append(drift_table(r.drift_repair))
    return parts


def runs_table(r: BenchResults, p: ConvergeFigures) -> str:
    """Every whole-playbook run of the bench, against the fresh converge."""
    runs = [p.fresh_converge, p.noop_rerun]
    if r.drift_repair:
        runs.append(r.drift_repair.run)
    if r.exactness:
        runs += [r.exactness.limit_run, r.exactness.restore_run]
    fresh = p.fresh_converge.seconds
    return section(
        f"Provisioning (site.yml / playbooks/app.yml, {len(p.fresh_converge.hosts)} containers)",
        ["run", "seconds", "changed", "task results (skipped)", "module runs", "vs fresh"],
        [_run_row(x, fresh) for x in runs],
    )


def _run_row(x: PlaybookRun, fresh_seconds: float) -> list[str]:
    return [
        x.label,
        f"{x.seconds:.1f}",
        str(x.changed),
        f"{x.host_results} ({x.host_skipped})",
        str(x.modules),
        f"{x.seconds / fresh_seconds:.2f}",
    ]


def tiers_table(rerun: PlaybookRun) -> str:
    """The re-run by play, and the time outside every play."""
    in_plays = sum(s.seconds for s in rerun.plays)
    return section(
        "No-op re-run of site.yml by tier (plays; json callback)",
        ["play", "batches", "hosts", "seconds", "task results", "module runs"],
        [
            [s.name, str(s.batches), str(s.hosts), f"{s.seconds:.1f}", str(s.tasks), str(s.modules)]
            for s in rerun.plays
        ]
        + [
            [
                "(outside plays: start-up, inventory, recap)",
                "",
                "",
                f"{max(0.0, rerun.seconds - in_plays):.1f}",
                "",
                "",
            ],
            ["total", "", "", f"{rerun.seconds:.1f}", "", str(rerun.modules)],
        ],
    )


def roles_table(rerun: PlaybookRun, noop: NoopFigures | None) -> str:
    """Each role's share of the re-run, and the same role alone against its floor."""
    alone = {x.role: x for x in noop.roles} if noop else {}
    return section(
        "No-op re-run by role: share of the site.yml re-run (profile_roles), and alone",
        [
            "role",
            "in re-run s",
            "hosts",
            "tasks/host",
            "modules/host",
            "alone s",
            "floor s",
            "x floor",
            "target",
            "met",
        ],
        [_share_row(s) + _alone_cells(alone.get(s.name)) for s in rerun.roles],
    )


def _share_row(s: Share) -> list[str]:
    hosts = max(1, s.hosts)
    return [
        s.name,
        f"{s.seconds:.1f}",
        str(s.hosts),
        f"{s.tasks / hosts:.1f}",
        f"{s.modules / hosts:.1f}",
    ]


def _alone_cells(x: RoleAloneFigures | None) -> list[str]:
    if x is None:
        return ["", "", "", "", ""]
    return [
        f"{x.median_seconds:.1f}",
        f"{x.floor_seconds:.1f}",
        f"{x.floor_multiple:.2f}",
        f"<= {x.target_floor_multiple:g}",
        yes_no(x.target_met),
    ]


def hosts_table(rerun: PlaybookRun) -> str:
    """The re-run's task results and module runs on each host."""
    return section(
        "No-op re-run of site.yml per host",
        ["host", "task results", "skipped", "module runs"],
        [[s.name, str(s.tasks), str(s.skipped), str(s.modules)] for s in rerun.hosts],
    )


def floor_tables(n: NoopFigures, rerun: PlaybookRun) -> list[str]:
    """The floor per host set, and the full-stack re-run as a multiple of its floor."""
    table = section(
        f"Floor: the preflight's fact gathering + one no-op task (median of {n.rounds})",
        ["hosts", "seconds", "runs", "task results", "module runs"],
        [
            [
                f.hosts,
                f"{f.median_seconds:.2f}",
                " ".join(f"{x:.1f}" for x in f.seconds_per_round),
                str(f.host_results),
                str(f.module_runs),
            ]
            for f in n.floors
        ],
    )
    full_floor = n.floors[0].median_seconds  # the full stack's, first
    return [
        table,
        f"full-stack no-op re-run = {rerun.seconds / full_floor:.1f} x the full-stack floor",
    ]


def slowest_table(rerun: PlaybookRun) -> str:
    """Where a no-op re-run spends its time: the tasks to look at first."""
    return section(
        "Slowest tasks of the no-op re-run (summed over plays and batches)",
        ["task", "seconds", "runs"],
        [[t.name, f"{t.seconds:.1f}", str(t.runs)] for t in rerun.slowest],
    )


def drift_table(d: DriftRepairFigures) -> str:
    """Each drift applied before the repair run, and whether the run undid it."""
    return section(
        "Drift applied before the repair run",
        ["host", "drift", "undone"],
        [[x.host, x.drift, yes_no(x.repaired)] for x in d.drifts],
    )
