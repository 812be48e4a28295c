"""Runs of the role on both hosts at once: bad input, drift repair, reload vs restart, secrets.

These run before test_postgresql.py (alphabetical order), so the behaviour
tests then check hosts that were drifted and repaired. Each test covers both
hosts (one playbook run serves them), so none takes the `host` fixture.
"""

from __future__ import annotations

import json
import shlex

import pytest
from ahsp_testing import run_playbook
from conftest import conf_dir_of, sql_as_superuser

ROTATED = "molecule-Rotated-Pg-Passw0rd-5e2a"


def _state(hosts) -> dict[str, str]:
    """Managed files (PostgreSQL's and pgBackRest's) and the server's start time on every host."""
    return {
        name: h.check_output(
            f"sha256sum {conf_dir_of(h)}/conf.d/ahsp.conf {conf_dir_of(h)}/pg_hba.conf"
            " /etc/pgbackrest/pgbackrest.conf"
        )
        + sql_as_superuser(h, "SELECT pg_postmaster_start_time()")
        for name, h in hosts.items()
    }


def _started(hosts) -> dict[str, str]:
    return {n: sql_as_superuser(h, "SELECT pg_postmaster_start_time()") for n, h in hosts.items()}


def _psql(host, password: str, address: str = "127.0.0.1"):
    return host.run(
        f"PGPASSWORD={shlex.quote(password)} PGCONNECT_TIMEOUT=5 psql -X -w -At "
        f"-h {address} -p 5432 -U ahsp -d ahsp -c 'SELECT 1'"
    )


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        # A few values the real hosts judge (their addresses, PostgreSQL's
        # own parser) or that would reach a file as a second line;
        # tests/unit/test_role_inputs.py holds the role's rules for many more.
        ({"postgresql_db_password": ""}, "postgresql_db_password"),
        (
            {"postgresql_listen_addresses": ["127.0.0.1", "192.0.2.99"]},
            "postgresql_listen_addresses",
        ),
        (
            {"postgresql_extra_config": {"work_mem": "8MB\nlisten_addresses = '*'"}},
            "postgresql_extra_config",
        ),
        # Well-formed, but PostgreSQL itself refuses it: caught by the server's
        # parser (pg-validate-config) before the file is written.
        ({"postgresql_extra_config": {"work_mem": "lots"}}, "postgresql_extra_config"),
        ({"postgresql_extra_config": {"no_such_setting": 1}}, "postgresql_extra_config"),
        # The backup role's (tests/unit/test_pgbackrest_inputs.py holds many more).
        ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full"),
        (
            {"pgbackrest_cipher_passphrase": "only-31-characters-0123456789ab"},
            "pgbackrest_cipher_passphrase",
        ),
        ({"pgbackrest_repo_path": "/etc/pgbackrest"}, "pgbackrest_repo_path"),
        ({"pgbackrest_full_schedule": "Sun 25:00"}, "pgbackrest_full_schedule"),
        ({"postgresql_extra_config": {"archive_command": "cp %p /tmp/x"}}, "archive_command"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_bad_input_fails_before_any_change(hosts, overrides, name):
    before = _state(hosts)
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(overrides))
    assert run.rc != 0, run.tail()
    assert name in run.output, run.tail()
    assert "changed: [" not in run.output, run.tail()
    assert _state(hosts) == before


def test_drift_is_repaired_and_reported(hosts, password):
    for h in hosts.values():
        dropin, hba = f"{conf_dir_of(h)}/conf.d/ahsp.conf", f"{conf_dir_of(h)}/pg_hba.conf"
        h.check_output(f"sed -i 's/^shared_buffers = .*/shared_buffers = 16MB/' {dropin}")
        h.check_output(f"echo 'host all all 0.0.0.0/0 trust' | tee -a {hba}")
        h.check_output(f"chmod 0644 {dropin} {hba}")
        h.check_output("systemctl disable --now postgresql")
        assert not h.service("postgresql").is_running

    repair = run_playbook("converge.yml", "-vvv")
    assert repair.rc == 0, repair.tail()
    assert all(c["changed"] > 0 for c in repair.recap().values()), repair.tail()
    assert password not in repair.output

    for h in hosts.values():
        dropin, hba = f"{conf_dir_of(h)}/conf.d/ahsp.conf", f"{conf_dir_of(h)}/pg_hba.conf"
        assert h.file(dropin).mode == h.file(hba).mode == 0o640
        assert "shared_buffers = 64MB" in h.file(dropin).content_string
        assert "trust" not in h.file(hba).content_string
        assert h.service("postgresql").is_running
        assert h.service("postgresql").is_enabled
        assert sql_as_superuser(h, "SHOW shared_buffers") == "64MB"

    again = run_playbook("converge.yml")
    assert again.rc == 0, again.tail()
    assert again.changed() == 0, again.tail()


def test_interrupted_change_is_finished_by_the_next_run(hosts):
    """A start-only setting written by a run that died before the restart: the next run restarts."""
    for h in hosts.values():
        dropin = f"{conf_dir_of(h)}/conf.d/ahsp.conf"
        h.check_output(f"sed -i 's/^max_connections = .*/max_connections = 90/' {dropin}")
        h.check_output("runuser -u postgres -- psql -X -At -c 'SELECT pg_reload_conf()'")
    before = _started(hosts)
    run = run_playbook("converge.yml", "--extra-vars", "postgresql_max_connections=90")
    assert run.rc == 0, run.tail()
    assert all(c["changed"] > 0 for c in run.recap().values()), run.tail()
    after = _started(hosts)
    assert all(after[n] != before[n] for n in hosts)
    for h in hosts.values():
        assert sql_as_superuser(h, "SHOW max_connections") == "90"
    back = run_playbook("converge.yml")
    assert back.rc == 0, back.tail()
    for h in hosts.values():
        assert sql_as_superuser(h, "SHOW max_connections") == "100"


def test_reload_only_setting_does_not_restart(hosts):
    before = _started(hosts)
    extra = {"postgresql_extra_config": {"log_connections": True, "work_mem": "16MB"}}
    run = run_playbook("converge.yml", "--extra-vars", json.dumps(extra))
    try:
        assert run.rc == 0, run.tail()
        assert all(c["changed"] > 0 for c in run.recap().values()), run.tail()
        for h in hosts.values():
            assert sql_as_superuser(h, "SHOW work_mem") == "16MB"
        assert _started(hosts) == before
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert _started(hosts) == before


def test_start_only_setting_restarts(hosts):
    before = _started(hosts)
    run = run_playbook("converge.yml", "--extra-vars", "postgresql_max_connections=90")
    try:
        assert run.rc == 0, run.tail()
        after = _started(hosts)
        assert all(after[n] != before[n] for n in hosts)
        for h in hosts.values():
            assert sql_as_superuser(h, "SHOW max_connections") == "90"
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    for h in hosts.values():
        assert sql_as_superuser(h, "SHOW max_connections") == "100"


def test_allowing_a_client_lets_it_in(hosts, password):
    name, h = next(iter(hosts.items()))
    own = h.check_output("hostname -I").split()[0]
    assert _psql(h, password, own).rc != 0
    clients = {"postgresql_allowed_clients": ["127.0.0.1", f"{own}/32"]}
    run = run_playbook("converge.yml", "--limit", name, "--extra-vars", json.dumps(clients))
    try:
        assert run.rc == 0, run.tail()
        result = _psql(h, password, own)
        assert result.rc == 0, result.stderr
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    assert _psql(h, password, own).rc != 0


def test_check_diff_after_converge_is_clean_and_secret_free(password):
    run = run_playbook("converge.yml", "--check", "--diff", "-vv")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert password not in run.output


def test_changed_password_is_applied_and_never_shown(hosts, password):
    rotate = run_playbook(
        "converge.yml", "--diff", "-vvv", "--extra-vars", f"postgresql_db_password={ROTATED}"
    )
    try:
        assert rotate.rc == 0, rotate.tail()
        assert rotate.changed() > 0
        assert ROTATED not in rotate.output
        assert password not in rotate.output
        for h in hosts.values():
            assert _psql(h, ROTATED).rc == 0
            assert _psql(h, password).rc != 0
        # The new password is stable: the next run with it changes nothing.
        same = run_playbook("converge.yml", "--extra-vars", f"postgresql_db_password={ROTATED}")
        assert same.rc == 0, same.tail()
        assert same.changed() == 0, same.tail()
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
    for h in hosts.values():
        assert _psql(h, password).rc == 0
