"""SSH host keys: checked in staging and production, off only for the local and bench containers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_config_checks_host_keys():
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    dump = subprocess.run(
        ["ansible-config", "dump", "--format", "json"],
        capture_output=True, text=True, env=env, check=True, cwd=ROOT,
    )  # fmt: skip
    setting = next(item for item in json.loads(dump.stdout) if item["name"] == "HOST_KEY_CHECKING")
    assert setting["value"] is True


@pytest.mark.parametrize("inventory", ["staging", "production"])
def test_real_inventories_pin_host_keys(inventory):
    base = ROOT / "inventories" / inventory
    main = yaml.safe_load((base / "group_vars" / "all" / "main.yml").read_text())
    args = main["ansible_ssh_common_args"].split()
    assert "StrictHostKeyChecking=yes" in args
    assert "UserKnownHostsFile={{ inventory_dir }}/known_hosts" in main["ansible_ssh_common_args"]
    assert (base / "known_hosts").is_file()
    assert "ansible_host_key_checking" not in main


@pytest.mark.parametrize("inventory", ["local", "bench"])
def test_only_the_containers_skip_the_check(inventory):
    hosts = yaml.safe_load((ROOT / "inventories" / inventory / "hosts.yml").read_text())
    group = hosts["all"]["children"]["local_containers"]
    assert group["vars"]["ansible_connection"] == "community.docker.docker"
    assert group["vars"]["ansible_host_key_checking"] is False
