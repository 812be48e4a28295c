"""Runs of the role itself: bad input, drift repair, restart vs reload, secrets.

These run before test_postgresql.py (alphabetical order), so the behaviour
tests then check a host that was drifted and repaired.
"""

from __future__ import annotations

import json

import pytest
from ahsp_testing import run_playbook

ROTATED = "molecule-Rotated-Pg-Passw0rd-5e2a"


def _checksums(host, conf_dir) -> str:
    return host.check_output(f"sha256sum {conf_dir}/conf.d/ahsp.conf {conf_dir}/pg_hba.conf")


def _start_time(superuser_sql) -> str:
    return superuser_sql("SELECT pg_postmaster_start_time()")


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"postgresql_db_password": ""}, "postgresql_db_password"),
        ({"postgresql_db_password": "short"}, "postgresql_db_password"),
        ({"postgresql_db_password": "has a space in it, sixteen+"}, "postgresql_db_password"),
        ({"postgresql_db_password": "quote'in-it-sixteen-chars"}, "postgresql_db_password"),
        ({"postgresql_port": 70000}, "postgresql_port"),
        ({"postgresql_allowed_clients": ["10.0.0.0/33"]}, "postgresql_allowed_clients"),
        ({"postgresql_allowed_clients": ["app.example.com"]}, "postgresql_allowed_clients"),
        ({"postgresql_allowed_clients": ["300.1.2.3"]}, "postgresql_allowed_clients"),
        ({"postgresql_allowed_clients": []}, "postgresql_allowed_clients"),
        ({"postgresql_listen_addresses": ["*"]}, "postgresql_listen_addresses"),
        ({"postgresql_shared_buffers": "lots"}, "postgresql_shared_buffers"),
        ({"postgresql_shared_buffers": "128mb"}, "postgresql_shared_buffers"),
        ({"postgresql_max_connections": 0}, "postgresql_max_connections"),
        ({"postgresql_db_name": "Bad-Name"}, "postgresql_db_name"),
        ({"postgresql_extra_config": {"port": 5433}}, "postgresql_extra_config"),
        ({"postgresql_service_state": "sometimes"}, "postgresql_service_state"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_input_fails_before_any_change(host, conf_dir, overrides, name):
    before = _checksums(host, conf_dir)
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(overrides))
    assert run.rc != 0, run.tail()
    assert name in run.output, run.tail()
    # No task of the role changed anything: the failure came from validation.
    assert "changed: [" not in run.output, run.tail()
    assert _checksums(host, conf_dir) == before


def test_drift_is_repaired_and_reported(host, conf_dir, password, superuser_sql):
    dropin, hba = f"{conf_dir}/conf.d/ahsp.conf", f"{conf_dir}/pg_hba.conf"
    host.check_output(f"sed -i 's/^shared_buffers = .*/shared_buffers = 16MB/' {dropin}")
    host.check_output(f"echo 'host all all 0.0.0.0/0 trust' | tee -a {hba}")
    host.check_output(f"chmod 0644 {dropin} {hba}")
    host.check_output("systemctl disable --now postgresql")
    assert not host.service("postgresql").is_running

    repair = run_playbook("converge.yml", "-vvv")
    assert repair.rc == 0, repair.tail()
    assert repair.changed() > 0, repair.tail()
    assert password not in repair.output

    for path in (dropin, hba):
        assert host.file(path).mode == 0o640
    assert "shared_buffers = 64MB" in host.file(dropin).content_string
    assert "trust" not in host.file(hba).content_string
    assert host.service("postgresql").is_running
    assert host.service("postgresql").is_enabled
    assert superuser_sql("SHOW shared_buffers") == "64MB"

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_reload_only_setting_does_not_restart(superuser_sql):
    before = _start_time(superuser_sql)
    extra = {"postgresql_extra_config": {"log_connections": True, "work_mem": "16MB"}}
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(extra))
    try:
        assert run.rc == 0, run.tail()
        assert "RUNNING HANDLER [postgresql : Reload postgresql]" in run.output
        assert "RUNNING HANDLER [postgresql : Restart postgresql]" not in run.output
        assert superuser_sql("SHOW work_mem") == "16MB"
        assert _start_time(superuser_sql) == before
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert _start_time(superuser_sql) == before


def test_start_only_setting_restarts(superuser_sql):
    before = _start_time(superuser_sql)
    run = run_playbook("converge.yml", "--extra-vars", "postgresql_max_connections=90")
    try:
        assert run.rc == 0, run.tail()
        assert "RUNNING HANDLER [postgresql : Restart postgresql]" in run.output
        assert superuser_sql("SHOW max_connections") == "90"
        assert _start_time(superuser_sql) != before
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert superuser_sql("SHOW max_connections") == "100"


def test_allowing_a_client_lets_it_in(psql, own_address):
    assert psql(address=own_address).rc != 0
    clients = {"postgresql_allowed_clients": ["127.0.0.1", f"{own_address}/32"]}
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(clients))
    try:
        assert run.rc == 0, run.tail()
        result = psql(address=own_address)
        assert result.rc == 0, result.stderr
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert psql(address=own_address).rc != 0


def test_check_diff_after_converge_is_clean_and_secret_free(password):
    run = run_playbook("converge.yml", "--check", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert password not in run.output


def test_changed_password_is_applied_and_never_shown(psql, password):
    rotate = run_playbook(
        "converge.yml", "--diff", "-vvv", "--extra-vars", f"postgresql_db_password={ROTATED}"
    )
    try:
        assert rotate.rc == 0, rotate.tail()
        assert rotate.changed() > 0
        assert ROTATED not in rotate.output
        assert password not in rotate.output
        assert psql(secret=ROTATED).rc == 0
        assert psql().rc != 0
        # The new password is stable: the next run with it changes nothing.
        same = run_playbook("converge.yml", "--extra-vars", f"postgresql_db_password={ROTATED}")
        assert same.rc == 0, same.tail()
        assert same.changed() == 0, same.tail()
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert psql().rc == 0
