"""Provisioning: a fresh converge of the whole stack, then its no-op re-run.

The containers are recreated first, so the converge is a real first one;
the re-run right after must change nothing, and its time against the fresh
converge's says what a routine run of a converged stack costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import provision
from provision import PlaybookRun


@dataclass(frozen=True)
class ConvergeFigures:
    """site.yml on fresh containers, then again on the converged stack."""

    fresh_converge: PlaybookRun
    noop_rerun: PlaybookRun
    noop_rerun_vs_fresh: float  # noop_rerun.seconds / fresh_converge.seconds


def measure() -> ConvergeFigures:
    """Recreate the containers, converge them, and re-run the same playbook."""
    provision.containers("absent")
    provision.containers("present")
    fresh = provision.run_playbook("fresh converge", "site.yml")
    rerun = provision.run_playbook("idempotent re-run", "site.yml")
    return ConvergeFigures(
        fresh_converge=fresh,
        noop_rerun=rerun,
        noop_rerun_vs_fresh=round(rerun.seconds / fresh.seconds, 3),
    )
