"""Runs of the role itself: drift repair, secrets in output, bad input.

These run before test_redis.py (alphabetical order), so the behaviour tests
then check a host that was drifted and repaired.
"""

from __future__ import annotations

import json

import pytest
from ahsp_testing import run_playbook

CONF = "/etc/redis/redis.conf"


def _checksums(host) -> str:
    return host.check_output(f"sha256sum {CONF} /etc/redis/redis-auth.conf")


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"redis_maxmemory": "lots"}, "redis_maxmemory"),
        ({"redis_maxmemory": "256xb"}, "redis_maxmemory"),
        ({"redis_maxmemory_policy": "most-recent"}, "redis_maxmemory_policy"),
        ({"redis_port": 70000}, "redis_port"),
        ({"redis_requirepass": ""}, "redis_requirepass"),
        ({"redis_requirepass": "short"}, "redis_requirepass"),
        ({"redis_requirepass": "has a space in it, sixteen+"}, "redis_requirepass"),
        ({"redis_save": ["900"]}, "redis_save"),
        ({"redis_bind": ["redis.example.com"]}, "redis_bind"),
        ({"redis_bind": []}, "redis_bind"),
        ({"redis_appendfsync": "sometimes"}, "redis_appendfsync"),
        ({"redis_extra_config": {"requirepass": "x"}}, "redis_extra_config"),
        ({"redis_logfile": "relative.log"}, "redis_logfile"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_input_fails_before_any_change(host, overrides, names):
    before = _checksums(host)
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(overrides))
    assert run.rc != 0, run.tail()
    assert names in run.output, run.tail()
    # No task of the role changed anything: the failure came from validation.
    assert "changed: [" not in run.output, run.tail()
    assert _checksums(host) == before


def test_drift_is_repaired_and_reported(host, password):
    host.check_output(f"sed -i -e '/^include /d' -e 's/^maxmemory .*/maxmemory 1mb/' {CONF}")
    host.check_output(f"chmod 0644 {CONF}")
    host.check_output("systemctl disable --now redis-server")
    assert not host.service("redis-server").is_running

    repair = run_playbook("converge.yml", "-vvv")
    assert repair.rc == 0, repair.tail()
    assert repair.changed() > 0, repair.tail()
    assert password not in repair.output

    conf = host.file(CONF)
    assert conf.mode == 0o640
    assert "maxmemory 256mb" in conf.content_string
    assert "include /etc/redis/redis-auth.conf" in conf.content_string
    assert host.service("redis-server").is_running
    assert host.service("redis-server").is_enabled

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_check_diff_after_converge_is_clean_and_secret_free(password):
    run = run_playbook("converge.yml", "--check", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert password not in run.output


def test_changed_password_is_applied_and_never_shown(host, password):
    new = "molecule-Rotated-Passw0rd-0b8d1e"
    diff = run_playbook("converge.yml", "--diff", "-v", "--extra-vars", f"redis_requirepass={new}")
    try:
        assert diff.rc == 0, diff.tail()
        assert diff.changed() > 0
        assert new not in diff.output
        assert password not in diff.output
        out = host.run(f"REDISCLI_AUTH={new} redis-cli -h 127.0.0.1 ping").stdout
        assert out.strip() == "PONG"
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
