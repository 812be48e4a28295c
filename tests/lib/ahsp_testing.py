"""Helpers shared by the Molecule (testinfra) suites of this repository.

Molecule runs converge and idempotence itself, but some behaviours can only be
checked by running a playbook from inside a test: that a drifted host is
repaired and the run *reports* the repair, that a run's full output never
contains a secret, that bad input fails before the host changes. Those tests
call `run_playbook`, which reuses the inventory and environment Molecule gave
the verifier, so the playbook runs exactly as Molecule's own converge does.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlaybookRun:
    """What a test needs from one ansible-playbook run."""

    rc: int
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        """Per-host counters from the PLAY RECAP (last one wins)."""
        result: dict[str, dict[str, int]] = {}
        for match in RECAP.finditer(self.output):
            counters = match.groupdict()
            host = counters.pop("host")
            result[host] = {k: int(v) for k, v in counters.items()}
        return result

    def changed(self) -> int:
        """Sum of `changed` over all hosts."""
        return sum(c["changed"] for c in self.recap().values())

    def tail(self, lines: int = 60) -> str:
        """The end of the output, for assertion messages."""
        return "\n".join(self.output.splitlines()[-lines:])


def scenario_dir() -> Path:
    """The directory of the scenario whose verifier is running."""
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


def run_playbook(
    playbook: str = "converge.yml",
    *args: str,
    timeout: int = 900,
    extra_env: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run a playbook of the current scenario against Molecule's inventory."""
    env = dict(os.environ)
    env.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    env.update(extra_env or {})
    cmd = [
        "ansible-playbook",
        "--inventory",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(scenario_dir() / playbook),
        *args,
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        cwd=scenario_dir(),
    )
    return PlaybookRun(rc=proc.returncode, output=proc.stdout + proc.stderr)
