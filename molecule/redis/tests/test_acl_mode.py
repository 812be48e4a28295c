"""ACL mode on both hosts: the move from requirepass, a password rotation, and the way back.

The scenario's inventory runs requirepass mode. This module moves both hosts
to ACL mode keeping `default` on with the old password (clients that still
send requirepass are not refused), rotates a client user's password with
both accepted for a while, turns `default` off, and returns to the
inventory's requirepass mode, checking at each step who may log in. It runs
first (alphabetical order) and leaves the hosts as the inventory wants them.
Secrets go to the runs in a 0600 vars file, never on a command line.
"""

from __future__ import annotations

import json
import shlex

import pytest
from ahsp_testing import run_playbook

ADMIN_PASSWORD = "molecule-Admin-Passw0rd-61c2d9"
FIRST, SECOND = "molecule-Client-One-7a1e04", "molecule-Client-Two-c93f5b"
RULES = "on ~client:* resetchannels -@all +ping +get +set +del"
PID = "systemctl show -p MainPID --value redis-server"


def _ping(host, user: str, password: str) -> str:
    """What PING answers as `user` (the password from stdin, never argv)."""
    words = f"redis-cli --no-auth-warning --raw -h 127.0.0.1 --user {shlex.quote(user)} ping"
    result = host.run(f'printf %s {shlex.quote(password)} | REDISCLI_AUTH="$(cat)" {words}')
    return (result.stdout + result.stderr).strip()


def _as(host, user: str, password: str, *args: str) -> str:
    words = " ".join(shlex.quote(a) for a in args)
    cmd = f"redis-cli --no-auth-warning --raw -h 127.0.0.1 --user {shlex.quote(user)} {words}"
    result = host.run(f'printf %s {shlex.quote(password)} | REDISCLI_AUTH="$(cat)" {cmd}')
    return (result.stdout + result.stderr).strip()


@pytest.fixture(scope="module")
def acl_run(tmp_path_factory, password):
    """Run the role in ACL mode with `overrides` (client passwords, bridge on or off)."""
    directory = tmp_path_factory.mktemp("acl")

    def run(passwords: list[str], bridge: bool, *args: str):
        values = {
            "redis_acl_enabled": True,
            "redis_admin_password": ADMIN_PASSWORD,
            "redis_acl_default_password": password if bridge else "",
            "redis_acl_users": [{"name": "client", "rules": RULES, "passwords": passwords}],
        }
        path = directory / "acl.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        return run_playbook("converge.yml", "-e", f"@{path}", *args)

    return run


def _user(name: str = "client", rules: str = "on +get", passwords=(FIRST,)) -> list[dict]:
    return [{"name": name, "rules": rules, "passwords": list(passwords)}]


@pytest.mark.parametrize(
    "users",
    [
        _user(rules="on >sneaky-password-1234 +get"),
        _user(rules="on +get\nuser evil on nopass"),
        _user(name="default"),
        _user(passwords=(FIRST, SECOND, ADMIN_PASSWORD)),
        _user(passwords=("short",)),
        _user(name="two words"),
    ],
    ids=["password-in-rules", "newline", "default", "three-passwords", "short", "space-in-name"],
)
def test_bad_acl_users_fail_before_any_change(hosts, tmp_path, users):
    before = {n: h.check_output(f"{PID}; sha256sum /etc/redis/*") for n, h in hosts.items()}
    path = tmp_path / "bad.json"
    path.touch(mode=0o600)
    values = {"redis_acl_enabled": True, "redis_admin_password": ADMIN_PASSWORD}
    path.write_text(json.dumps({**values, "redis_acl_users": users}))
    run = run_playbook("converge.yml", "-e", f"@{path}")
    assert run.rc != 0
    assert "redis_acl_users" in run.output, run.tail()
    assert {n: h.check_output(f"{PID}; sha256sum /etc/redis/*") for n, h in hosts.items()} == before


def test_acl_mode_without_a_password_for_the_admin_is_refused(hosts):
    run = run_playbook(
        "converge.yml", "-e", '{"redis_acl_enabled": true, "redis_admin_password": ""}'
    )
    assert run.rc != 0
    assert "redis_admin_password" in run.output, run.tail()


def test_requirepass_to_acl_to_requirepass(hosts, password, acl_run):
    # 1. ACL mode, `default` kept on with the old requirepass: nobody is refused.
    run = acl_run([FIRST], True)
    assert run.rc == 0, run.tail()
    for host in hosts.values():
        assert _ping(host, "default", password) == "PONG"
        assert _ping(host, "client", FIRST) == "PONG"
        assert _ping(host, "ahsp-admin", ADMIN_PASSWORD) == "PONG"
        assert _as(host, "client", FIRST, "set", "client:k", "1") == "OK"
        assert "NOPERM" in _as(host, "client", FIRST, "set", "other:k", "1")
        assert "NOPERM" in _as(host, "client", FIRST, "config", "get", "maxmemory")
        users = host.file("/etc/redis/users.acl")
        assert (users.user, users.mode) == ("redis", 0o640)
        for secret in (FIRST, ADMIN_PASSWORD, password):
            assert secret not in users.content_string
        root_file = host.file("/root/.redis-admin-password")
        assert (root_file.user, root_file.mode) == ("root", 0o600)
    assert run_playbook_quiet(acl_run([FIRST], True))

    # 2. Rotation: both passwords work, without a restart; then only the new one.
    pids = {n: h.check_output(PID) for n, h in hosts.items()}
    run = acl_run([SECOND, FIRST], True)
    assert run.rc == 0 and run.changed() > 0, run.tail()
    for host in hosts.values():
        assert _ping(host, "client", FIRST) == "PONG"
        assert _ping(host, "client", SECOND) == "PONG"
    run = acl_run([SECOND], True)
    assert run.rc == 0, run.tail()
    for host in hosts.values():
        assert "WRONGPASS" in _ping(host, "client", FIRST)
        assert _ping(host, "client", SECOND) == "PONG"

    # 3. Every client has its user: `default` off, still without a restart.
    run = acl_run([SECOND], False)
    assert run.rc == 0, run.tail()
    for host in hosts.values():
        assert "WRONGPASS" in _ping(host, "default", password)
        assert _ping(host, "client", SECOND) == "PONG"
    assert {n: h.check_output(PID) for n, h in hosts.items()} == pids
    for secret in (FIRST, SECOND, ADMIN_PASSWORD, password):
        assert secret not in run.output

    # 4. Back to the inventory's requirepass mode (a restart: aclfile goes away).
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    for host in hosts.values():
        assert _ping(host, "default", password) == "PONG"
        assert "WRONGPASS" in _ping(host, "client", SECOND)
        assert not host.file("/root/.redis-admin-password").exists
    again = run_playbook("converge.yml")
    assert again.rc == 0 and again.changed() == 0, again.tail()


def run_playbook_quiet(run) -> bool:
    """A second run with the same values changes nothing."""
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail(120)
    return True
