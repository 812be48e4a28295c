"""Runs of the role on both hosts at once: bad input, drift repair, run-time settings, secrets.

These run before test_redis.py (alphabetical order), so the behaviour tests
then check hosts that were drifted and repaired. Each test covers every host
of the scenario (one playbook run serves both), so none takes the `host`
fixture.
"""

from __future__ import annotations

import json
import shlex

import pytest
from ahsp_testing import run_playbook

CONF = "/etc/redis/redis.conf"
STATE = (
    f"sha256sum {CONF} /etc/redis/redis-auth.conf; systemctl show -p MainPID --value redis-server"
)


def _pids(hosts) -> dict[str, str]:
    return {
        name: h.check_output("systemctl show -p MainPID --value redis-server")
        for name, h in hosts.items()
    }


def _get(host, password: str, name: str, port: int = 6379) -> str:
    auth = f"REDISCLI_AUTH={shlex.quote(password)}"
    return host.check_output(
        f"{auth} redis-cli --raw -h 127.0.0.1 -p {port} config get {name}"
    ).splitlines()[-1]


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        # A few values the real hosts judge (their addresses) or that would
        # reach redis.conf as a second line; tests/unit/test_role_inputs.py
        # holds the role's rules for many more values.
        ({"redis_admin_password": ""}, "redis_admin_password"),
        (
            {"redis_admin_password": "line-one-0123456789\nprotected-mode no"},
            "redis_admin_password",
        ),
        ({"redis_bind": ["127.0.0.1", "192.0.2.99"]}, "redis_bind"),
        ({"redis_extra_config": {"requirepass": "x"}}, "redis_extra_config"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_input_fails_before_any_change(hosts, overrides, name):
    before = {n: h.check_output(STATE) for n, h in hosts.items()}
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(overrides))
    assert run.rc != 0, run.tail()
    assert name in run.output, run.tail()
    # No task of the role changed anything: the failure came from validation.
    assert "changed: [" not in run.output, run.tail()
    assert {n: h.check_output(STATE) for n, h in hosts.items()} == before


def test_drift_is_repaired_and_reported(hosts, password):
    for h in hosts.values():
        h.check_output(f"sed -i -e '/^include /d' -e 's/^maxmemory .*/maxmemory 1mb/' {CONF}")
        h.check_output(f"chmod 0644 {CONF}")
        h.check_output("systemctl disable --now redis-server")

    repair = run_playbook("converge.yml", "-vvv")
    assert repair.rc == 0, repair.tail()
    assert all(c["changed"] > 0 for c in repair.recap().values()), repair.tail()
    assert password not in repair.output

    for h in hosts.values():
        conf = h.file(CONF)
        assert conf.mode == 0o640
        assert "maxmemory 256mb" in conf.content_string
        assert 'include "/etc/redis/redis-auth.conf"' in conf.content_string
        assert h.service("redis-server").is_running
        assert h.service("redis-server").is_enabled

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_running_settings_drift_is_repaired_without_a_restart(hosts, password):
    """A CONFIG SET by hand: the next run brings the server back to redis.conf, same process."""
    auth = f"REDISCLI_AUTH={shlex.quote(password)}"
    for h in hosts.values():
        h.check_output(f"{auth} redis-cli -h 127.0.0.1 config set maxmemory-policy noeviction")
    before = _pids(hosts)
    repair = run_playbook("converge.yml")
    assert repair.rc == 0, repair.tail()
    assert all(c["changed"] > 0 for c in repair.recap().values()), repair.tail()
    assert _pids(hosts) == before
    for h in hosts.values():
        assert _get(h, password, "maxmemory-policy") == "allkeys-lru"


def test_dynamic_settings_from_extra_vars_apply_without_a_restart(hosts, password):
    """maxmemory and timeout given as -e strings (as an operator would) reach the running server."""
    before = _pids(hosts)
    run = run_playbook("converge.yml", "--extra-vars", "redis_maxmemory=128mb redis_timeout=30")
    try:
        assert run.rc == 0, run.tail()
        assert all(c["changed"] > 0 for c in run.recap().values()), run.tail()
        assert _pids(hosts) == before, "a run-time setting must not restart Redis"
        for h in hosts.values():
            assert _get(h, password, "maxmemory") == "134217728"
            assert _get(h, password, "timeout") == "30"
            assert "maxmemory 128mb" in h.file(CONF).content_string
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert _pids(hosts) == before
    for h in hosts.values():
        assert _get(h, password, "maxmemory") == "268435456"


def test_port_given_as_a_string_restarts_on_the_new_port(hosts, password):
    before = _pids(hosts)
    run = run_playbook("converge.yml", "--extra-vars", "redis_port=6390")
    try:
        assert run.rc == 0, run.tail()
        after = _pids(hosts)
        assert all(after[n] != before[n] for n in hosts), "a new port needs a restart"
        for h in hosts.values():
            assert _get(h, password, "port", port=6390) == "6390"
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    for h in hosts.values():
        assert _get(h, password, "port") == "6379"


def test_check_diff_after_converge_is_clean_and_secret_free(password):
    run = run_playbook("converge.yml", "--check", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert password not in run.output


def test_changed_password_is_applied_and_never_shown(hosts, password):
    new = "molecule-Rotated-Passw0rd-0b8d1e"
    diff = run_playbook(
        "converge.yml", "--diff", "-v", "--extra-vars", f"redis_admin_password={new}"
    )
    try:
        assert diff.rc == 0, diff.tail()
        assert diff.changed() > 0
        assert new not in diff.output
        assert password not in diff.output
        for h in hosts.values():
            out = h.run(f"REDISCLI_AUTH={new} redis-cli -h 127.0.0.1 ping").stdout
            assert out.strip() == "PONG"
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
