"""The whole-stack preflight alone, on the controller: bad values fail before anything runs.

A four-host inventory whose hosts are this machine (connection local): the
preflight only gathers facts and validates, so nothing is changed here. The
Molecule stack scenario runs the same checks against real hosts and proves
that nothing changed on them; this is the quick version for `make lint`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{python}"
  children:
    redis: {{hosts: {{r1: {{}}}}}}
    db: {{hosts: {{d1: {{}}}}}}
    app: {{hosts: {{a1: {{}}, a2: {{}}}}}}
"""
GROUP_VARS = {
    "app_environment": "local",
    "app_allowed_hosts": ["a1", "a2"],
    # Printable ASCII with quotes, backslash and $: every tier must accept it.
    "redis_admin_password": "r3dis-'\"\\$-0123456789",
    "redis_app_password": "r3dis-app-'\"\\$-0123456789",
    "postgresql_db_password": "pg-'\"\\$-0123456789abc",
    "app_secret_key": "s3cret-key-with-plenty-of-characters-0123456789-abcdefghijkl",
    "pgbackrest_cipher_passphrase": "backup-'\"\\$-passphrase-0123456789-abcdefgh",
}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("inventory")
    (base / "hosts.yml").write_text(INVENTORY.format(python=sys.executable))
    (base / "group_vars" / "all").mkdir(parents=True)
    (base / "group_vars" / "all" / "main.yml").write_text(json.dumps(GROUP_VARS))
    return base


def preflight(inventory: Path, extra: dict | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / "preflight.yml")]
    if extra:
        cmd += ["--extra-vars", json.dumps(extra)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_good_inventory_passes(inventory):
    run = preflight(inventory)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "changed=0" in run.stdout


def test_an_old_variable_name_still_works_and_warns(tmp_path):
    """An inventory that names the Redis admin password redis_requirepass passes, with a warning."""
    (tmp_path / "hosts.yml").write_text(INVENTORY.format(python=sys.executable))
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    old = {k: v for k, v in GROUP_VARS.items() if k != "redis_admin_password"}
    old["redis_requirepass"] = GROUP_VARS["redis_admin_password"]
    (tmp_path / "group_vars" / "all" / "main.yml").write_text(json.dumps(old))
    run = preflight(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    output = " ".join((run.stdout + run.stderr).split())
    assert "redis_requirepass is renamed redis_admin_password" in output, output[-3000:]


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        # One value of each role: the preflight applies that role's rules
        # (test_role_inputs.py holds the roles' rules, many values at once).
        ({"redis_port": "sixty"}, "redis_port"),
        ({"postgresql_port": 70000}, "postgresql_port"),
        ({"app_base_dir": "/srv"}, "app_base_dir"),
        ({"static_files_owner": "Bad Owner"}, "static_files_owner"),
        # Judged against this host's own addresses, as gathered.
        ({"gunicorn_systemd_bind": "192.0.2.99:8000"}, "gunicorn_systemd_bind"),
        ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full"),
        # Named as given, not as the redis_acl_users the wiring builds from it.
        ({"redis_app_password": "has a space-0123456789"}, "redis_app_password"),
        # Lists the wiring adds to: a list given as a string (the template
        # would loop over its characters), a form a file reads differently.
        ({"postgresql_allowed_clients": "10.0.0.0/24"}, "postgresql_allowed_clients"),
        ({"app_trusted_proxies": ["10.0.0.0/255.0.0.0"]}, "app_trusted_proxies"),
        # Passed to PostgreSQL's sandbox by the wiring (the repository is
        # local here): named as given too.
        ({"pgbackrest_repo_path": "backups/pg"}, "pgbackrest_repo_path"),
        # Passed to PostgreSQL's archive_timeout by the wiring.
        ({"pgbackrest_archive_timeout": 300}, "pgbackrest_archive_timeout"),
        # A value every role's directories are checked against.
        ({"ahsp_owned_dirs_extra": ["/opt"]}, "ahsp_owned_dirs_extra"),
        # No variable turns the preflight off (extra vars outrank anything a play sets).
        ({"ahsp_preflight_done": True, "redis_port": "sixty"}, "redis_port"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_value_fails_and_names_the_variable(inventory, extra, name):
    run = preflight(inventory, extra)
    assert run.returncode != 0, run.stdout[-3000:]
    assert name in run.stdout, run.stdout[-3000:]
    for secret in ("r3dis-", "pg-'"):
        assert secret not in run.stdout


ENTRY_POINTS = [
    "site.yml", "playbooks/app.yml", "playbooks/data.yml", "playbooks/db.yml",
    "playbooks/redis.yml", "playbooks/rollback.yml", "playbooks/releases.yml",
    "playbooks/rotate-secrets.yml", "playbooks/backup.yml", "playbooks/backups.yml",
]  # fmt: skip


@pytest.fixture(scope="module")
def plays_by_entry_point(inventory) -> dict[str, list[str]]:
    """The plays of every entry point, in order, from one `--list-tasks` run of them all."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    listing = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "--list-tasks",
         *(str(ROOT / playbook) for playbook in ENTRY_POINTS)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    plays: dict[str, list[str]] = {}
    current: list[str] = []
    for line in listing.stdout.splitlines():
        if line.startswith("playbook: "):
            current = plays.setdefault(str(Path(line.split(": ", 1)[1]).relative_to(ROOT)), [])
        elif line.strip().startswith("play #"):
            current.append(line.split("): ", 1)[1])
    return plays


@pytest.mark.parametrize("playbook", ENTRY_POINTS)
def test_every_entry_point_validates_first_and_once(plays_by_entry_point, playbook):
    """The preflight is the first play of every entry point, and there is exactly one."""
    plays = plays_by_entry_point[playbook]
    preflights = [index for index, play in enumerate(plays) if play.strip().startswith("Preflight")]
    assert preflights == [0], plays


def _inventory_without(base: Path, *names: str) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    (base / "hosts.yml").write_text(INVENTORY.format(python=sys.executable))
    (base / "group_vars" / "all").mkdir(parents=True)
    values = {k: v for k, v in GROUP_VARS.items() if k not in names}
    (base / "group_vars" / "all" / "main.yml").write_text(json.dumps(values))
    return base


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        (("redis_app_password",), "redis_app_password is required: in ACL mode"),
        (
            ("postgresql_db_password",),
            "postgresql_db_password is required on the `db` host and the app hosts",
        ),
        (("redis_admin_password",), "redis_admin_password is required"),
        (
            ("pgbackrest_cipher_passphrase",),
            "pgbackrest_cipher_passphrase is required with a `db` host",
        ),
    ],
)
def test_a_missing_value_is_named_with_what_needs_it(tmp_path, missing, message):
    run = preflight(_inventory_without(tmp_path, *missing))
    assert run.returncode != 0
    assert message in run.stdout, run.stdout[-3000:]
    assert "is undefined" not in run.stdout + run.stderr


def test_the_redis_role_alone_needs_no_app_password(tmp_path):
    """A user of the redis role alone gives its admin password, nothing of the app."""
    inventory = _inventory_without(tmp_path / "inventory", "redis_app_password")
    playbook = tmp_path / "redis-alone.yml"
    playbook.write_text(
        "- hosts: redis\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role: {name: redis, tasks_from: validate}\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_ROLES_PATH": str(ROOT / "roles")}  # fmt: skip
    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


@pytest.fixture(scope="module")
def inventory_with_front(tmp_path_factory) -> Path:
    """The same hosts and a front (group `web`) with a local CA's certificate."""
    base = tmp_path_factory.mktemp("inventory-front")
    hosts = INVENTORY.replace(
        "app: {{hosts: {{a1: {{}}, a2: {{}}}}}}",
        "app: {{hosts: {{a1: {{}}, a2: {{}}}}}}\n    web: {{hosts: {{w1: {{}}}}}}",
    )
    (base / "hosts.yml").write_text(hosts.format(python=sys.executable))
    (base / "group_vars" / "all").mkdir(parents=True)
    values = {**GROUP_VARS, "nginx_tls_source": "local_ca"}
    (base / "group_vars" / "all" / "main.yml").write_text(json.dumps(values))
    return base


def test_an_inventory_with_a_front_passes(inventory_with_front):
    run = preflight(inventory_with_front)
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        # The wiring's list of app hosts, overridden by a value the front cannot use.
        ({"nginx_upstreams": ["app1:8000"]}, "nginx_upstreams"),
        ({"nginx_server_names": ["two words"]}, "nginx_server_names"),
        # The front's TLS and the app's redirect must agree.
        ({"nginx_tls_source": "none", "app_secure_ssl_redirect": True}, "nginx_tls_source"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_a_bad_front_value_fails_and_names_the_variable(inventory_with_front, extra, name):
    run = preflight(inventory_with_front, extra)
    assert run.returncode != 0, run.stdout[-3000:]
    assert name in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("backup: {{hosts: {{d1: {{}}}}}}", "the `backup` host is the `db` host"),
        (
            "backup: {{hosts: {{b1: {{}}, b2: {{}}}}}}",
            "the `backup` group must hold at most one host",
        ),
    ],
    ids=["backup-is-db", "two-backup-hosts"],
)
def test_the_backup_group_shape_is_checked(tmp_path, groups, message):
    """One backup host at most, and never the database host itself."""
    (tmp_path / "hosts.yml").write_text(
        (INVENTORY + "    " + groups + "\n").format(python=sys.executable)
    )
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "group_vars" / "all" / "main.yml").write_text(json.dumps(GROUP_VARS))
    run = preflight(tmp_path)
    assert run.returncode != 0
    assert message in " ".join(run.stdout.split()), run.stdout[-3000:]
