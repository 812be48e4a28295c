"""Run `ansible` or `ansible-playbook` from the repository root and read its JSON report.

The repository's ansible.cfg (collections path, the wiring) applies; the
stdout callback is Ansible's own `json`, so a test reads results as data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def validation_play(name: str, roles: list[str]) -> str:
    """A play that runs each role's tasks/validate.yml, in order, on every case host.

    The facts the checks read are fixed (a Debian 12 host with one private
    address), so no module runs per case and this machine's own facts do
    not change the outcome.
    """
    return f"""
- name: {json.dumps(name)}
  hosts: all
  gather_facts: false
  tasks:
    - name: A Debian 12 host with one private address
      ansible.builtin.set_fact:
        ansible_facts:
          distribution: Debian
          distribution_release: bookworm
          all_ipv4_addresses: ["127.0.0.1", "10.0.0.5"]
          all_ipv6_addresses: ["::1"]
    - name: Inputs of each role, in the order the roles run
      ansible.builtin.include_role:
        name: "{{{{ item }}}}"
        tasks_from: validate
      loop: {json.dumps(roles)}
"""


def validation_results(
    tmp: Path, play: str, cases: dict[str, dict], timeout: int = 600
) -> tuple[dict[str, dict], str]:
    """Run a role's validation once for many cases, each a local host with its own values.

    Returns each case's first failed result, else its first `check_inputs`
    result (its `msg` says what failed), by case name, and the run's whole
    output (to look for a secret in it). Only the host_group_vars vars
    plugin: no tier wiring.
    """
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": cases,
        }
    }
    (tmp / "hosts.yml").write_text(json.dumps(inventory))
    (tmp / "validate.yml").write_text(play)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_VARS_ENABLED": "host_group_vars",
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_FORKS": "20",
    }
    cmd = ["ansible-playbook", "-i", str(tmp / "hosts.yml"), str(tmp / "validate.yml")]
    run = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False
    )
    if "{" not in run.stdout:
        raise AssertionError(f"ansible-playbook gave no JSON report: {run.stderr[-2000:]}")
    report, _ = json.JSONDecoder().raw_decode(run.stdout[run.stdout.index("{") :])
    results: dict[str, dict] = {}
    for task in report["plays"][0]["tasks"]:
        for host, result in task["hosts"].items():
            if result.get("failed") and not results.get(host, {}).get("failed"):
                results[host] = result
            elif "check_inputs" in result.get("action", ""):
                results.setdefault(host, result)
    missing = set(cases) - set(results)
    assert not missing, f"no validation result for {missing}: {run.stderr[-2000:]}"
    return results, run.stdout + run.stderr
