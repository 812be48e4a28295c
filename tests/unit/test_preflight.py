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
        ({"redis_dir": "/var/lib"}, "redis_dir"),
        ({"redis_port": "sixty"}, "redis_port"),
        ({"postgresql_extra_config": {"Port": 1}}, "postgresql_extra_config"),
        ({"app_extra_env": {"DEBUG": "true"}}, "app_extra_env"),
        ({"app_extra_secret_env": {"X": "a\nb"}}, "app_extra_secret_env"),
        ({"static_files_owner": "Bad Owner"}, "static_files_owner"),
        ({"gunicorn_systemd_bind": "192.0.2.99:8000"}, "gunicorn_systemd_bind"),
        ({"postgresql_db_password": "too-short"}, "postgresql_db_password"),
        # Named as given, not as the redis_acl_users the wiring builds from it.
        ({"redis_app_password": "has a space-0123456789"}, "redis_app_password"),
        # A list given as a string: the template would loop over its characters.
        ({"postgresql_allowed_clients": "10.0.0.0/24"}, "postgresql_allowed_clients"),
        ({"gunicorn_systemd_writable_paths": "/"}, "gunicorn_systemd_writable_paths"),
        # Forms a file reads differently from the check: a zone index, a netmask.
        (
            {"postgresql_allowed_clients": ["fe80::1%x  scram-sha-256 trust"]},
            "postgresql_allowed_clients",
        ),
        ({"app_trusted_proxies": ["10.0.0.0/255.0.0.0"]}, "app_trusted_proxies"),
        ({"redis_port": "06379"}, "redis_port"),
        # Directories outside the roles' own trees, and paths the host expands.
        ({"redis_dir": "/etc/cron.d"}, "redis_dir"),
        ({"gunicorn_systemd_log_dir": "~/logs"}, "gunicorn_systemd_log_dir"),
        ({"ahsp_owned_dirs_extra": ["/opt"]}, "ahsp_owned_dirs_extra"),
        ({"redis_extra_config_unsafe_directives": ["a b"]}, "redis_extra_config_unsafe_directives"),
        ({"postgresql_extra_config_unsafe_settings": "x"}, "postgresql_extra_config_unsafe"),
        ({"redis_replicaof": "10.0.0.5:06379"}, "redis_replicaof"),
        # No variable turns the preflight off (extra vars outrank anything a play sets).
        ({"ahsp_preflight_done": True, "redis_port": "sixty"}, "redis_port"),
        # Extra settings outside the vetted lists: admin commands, loading code.
        ({"redis_extra_config": {"enable-debug-command": "yes"}}, "enable-debug-command"),
        (
            {"postgresql_extra_config": {"shared_preload_libraries": "x"}},
            "shared_preload_libraries",
        ),
        # Each role's value classes, refused here rather than on the full stack's hosts.
        ({"redis_logfile": "/var/log/redis.log"}, "redis_logfile"),
        ({"redis_extra_config": {"Protected-Mode": "no"}}, "redis_extra_config"),
        ({"redis_extra_config": {"maxclients": "100\nprotected-mode no"}}, "redis_extra_config"),
        ({"postgresql_port": 70000}, "postgresql_port"),
        ({"postgresql_extra_config": {"listen_addresses": "*"}}, "postgresql_extra_config"),
        ({"app_extra_env": {"TIME_ZONE": "UTC\nDEBUG=true"}}, "app_extra_env"),
        ({"app_extra_env": {"REDIS_SENTINEL_PASSWORD": "not-here"}}, "app_extra_env"),
        ({"app_extra_secret_env": {"API_KEY ": "x"}}, "app_extra_secret_env"),
        ({"app_base_dir": "/srv"}, "app_base_dir"),
        ({"app_config_dir": "/etc"}, "app_config_dir"),
        ({"app_user": "root\nUser=root"}, "app_user"),
        ({"app_redis_url": "redis://user:pw@10.0.0.1:6380/1"}, "app_redis_url"),
        ({"app_trusted_proxies": ["10.0.0.1/8"]}, "app_trusted_proxies"),
        ({"app_allowed_hosts": ["a.example.com,b.example.com"]}, "app_allowed_hosts"),
        ({"gunicorn_systemd_log_dir": "/var/log"}, "gunicorn_systemd_log_dir"),
        ({"gunicorn_systemd_proc_name": "ahsp'; import os #"}, "gunicorn_systemd_proc_name"),
        (
            {"gunicorn_systemd_forwarded_allow_ips": ["10.0.0.0/255.0.0.0"]},
            "gunicorn_systemd_forwarded_allow_ips",
        ),
        ({"app_media_root": "/usr/local/bin"}, "app_media_root"),
        ({"postgresql_extra_config": {"archive_command": "cp %p /tmp/x"}}, "archive_command"),
        ({"app_extra_env": {"STATIC_ROOT": "/srv/ahsp/shared/data"}}, "STATIC_ROOT"),
        ({"app_extra_env": {"LOGIN_FAILURE_LIMIT": " 5"}}, "LOGIN_FAILURE_LIMIT"),
        ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full"),
        ({"pgbackrest_check_schedule": "every 15 minutes"}, "pgbackrest_check_schedule"),
        ({"pgbackrest_archive_timeout": 300}, "pgbackrest_archive_timeout"),
        ({"postgresql_extra_config": {"restore_command": "cp /x/%f %p"}}, "restore_command"),
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


@pytest.mark.parametrize("playbook", ENTRY_POINTS)
def test_every_entry_point_validates_first_and_once(inventory, playbook):
    """The preflight is the first play of every entry point, and there is exactly one."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    listing = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / playbook), "--list-tasks"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    plays = [
        line.split("): ", 1)[1]
        for line in listing.stdout.splitlines()
        if line.strip().startswith("play #")
    ]
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
        ({"nginx_upstreams": ["app1:8000"]}, "nginx_upstreams"),
        ({"nginx_server_names": ["two words"]}, "nginx_server_names"),
        ({"nginx_server_names": ["a.*.example.org"]}, "nginx_server_names"),
        ({"nginx_tls_source": "none", "app_secure_ssl_redirect": True}, "nginx_tls_source"),
        ({"nginx_tls_source": "provided"}, "nginx_tls_certificate"),
        ({"nginx_requests_per_second_per_client": "50r/s"}, "nginx_requests_per_second_per_client"),
        ({"nginx_acme_server": "http://acme.example.org/directory"}, "nginx_acme_server"),
        ({"nginx_static_dirs": ["/srv/ahsp/current/static files"]}, "nginx_static_dirs"),
        ({"nginx_static_dirs": ["/srv/ahsp/current/staticfiles;"]}, "nginx_static_dirs"),
        ({"static_files_readers": ["www data"]}, "static_files_readers"),
        ({"nginx_status_port": 70000}, "nginx_status_port"),
        ({"app_internal_hosts": ["app-1.example.com"]}, "app_internal_hosts"),
        ({"postgresql_monitoring_user": "Bad User"}, "postgresql_monitoring_user"),
        ({"app_metrics_allowed_networks": ["10.0.0.1/8"]}, "app_metrics_allowed_networks"),
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
