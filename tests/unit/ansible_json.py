"""Run `ansible` or `ansible-playbook` from the repository root and read its JSON report.

The repository's ansible.cfg (collections path, the wiring) applies; the
stdout callback is Ansible's own `json`, so a test reads results as data.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ansible_json(*argv: str) -> dict:
    """The whole JSON report of one run (plays, tasks, per-host results, stats)."""
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        check=False,
    )
    if "{" not in proc.stdout:
        raise AssertionError(f"{argv[0]} gave no JSON report: {proc.stderr[-2000:]}")
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return report


def local_module(module: str, args: dict, *flags: str) -> dict:
    """One ad-hoc run of a module (its action plugin included) on this machine; its JSON result."""
    report = ansible_json(
        "ansible", "localhost", "-c", "local", "-m", module, "-a", json.dumps(args), *flags
    )
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]
