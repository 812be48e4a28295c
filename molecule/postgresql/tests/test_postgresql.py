"""Behaviour of the PostgreSQL the role runs: service, network, auth, config, secrets."""

from __future__ import annotations

import shlex

import pytest
from ahsp_testing import exposure


def test_service_active_and_enabled(host, cluster_unit):
    service = host.service("postgresql")
    assert service.is_running
    assert service.is_enabled
    assert host.service(cluster_unit).is_running


def test_debian_release_version_cluster_online(host, version):
    clusters = host.check_output("pg_lsclusters --no-header").splitlines()
    assert any(line.split()[:4] == [version, "main", "5432", "online"] for line in clusters), (
        clusters
    )


def test_listens_only_on_configured_addresses(host, own_address):
    listening = host.check_output("ss -ltnH 'sport = :5432' | awk '{print $4}'").split()
    addresses = {a.rsplit(":", 1)[0] for a in listening}
    assert addresses == {"127.0.0.1", own_address}, listening


def test_app_user_connects_over_tcp_and_queries(psql):
    result = psql("SELECT current_user || '|' || current_database() || '|' || 6 * 7")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "ahsp|ahsp|42"


def test_app_user_can_create_tables_in_its_database(psql):
    result = psql(
        "CREATE TABLE IF NOT EXISTS molecule_probe (id int); "
        "INSERT INTO molecule_probe VALUES (1); SELECT count(*) > 0 FROM molecule_probe"
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "t"


def test_app_user_connects_over_the_socket_with_password(psql):
    result = psql("SELECT 1", address="/var/run/postgresql")
    assert result.rc == 0, result.stderr


def test_wrong_password_is_refused(psql):
    result = psql(secret="not-the-password-at-all")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_client_not_allowed_is_rejected(psql, own_address):
    # The server listens there, but the source (own_address) is not in
    # postgresql_allowed_clients: pg_hba.conf must turn it away, password or not.
    result = psql(address=own_address)
    assert result.rc != 0
    assert "pg_hba.conf rejects connection" in result.stderr, result.stderr


@pytest.mark.parametrize(("user", "db"), [("postgres", "postgres"), ("ahsp", "postgres")])
def test_other_users_and_databases_rejected_over_tcp(psql, user, db):
    result = psql(user=user, db=db)
    assert result.rc != 0
    assert "pg_hba.conf rejects connection" in result.stderr, result.stderr


def test_password_stored_as_scram_verifier(superuser_sql):
    stored = superuser_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'ahsp'")
    assert stored.startswith("SCRAM-SHA-256$")


def test_app_user_is_not_privileged(superuser_sql):
    flags = superuser_sql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin "
        "FROM pg_roles WHERE rolname = 'ahsp'"
    )
    assert flags == "f|f|f|f|t"


def test_database_owned_by_app_user(superuser_sql):
    row = superuser_sql(
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) "
        "FROM pg_database WHERE datname = 'ahsp'"
    )
    assert row == "ahsp|UTF8"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shared_buffers", "64MB"),
        ("max_connections", "100"),
        ("password_encryption", "scram-sha-256"),
        ("lc_messages", "C"),
        ("port", "5432"),
        ("work_mem", "8MB"),
        ("log_connections", "on"),
    ],
)
def test_running_settings(superuser_sql, name, expected):
    assert superuser_sql(f"SHOW {name}") == expected


def test_cluster_runs_sandboxed_as_postgres(host, cluster_unit):
    """The role's drop-in: no root in the unit, systemd's score <= 3.0 (Debian's unit: 9.6)."""
    assert exposure(host, f"{cluster_unit}.service") <= 3.0
    pid = host.check_output(f"systemctl show -p MainPID --value {cluster_unit}")
    assert host.check_output(f"ps -o user= -p {pid}") == "postgres"
    assert "root" not in host.check_output(f"ps -o user= --ppid {pid}").split()


def test_no_setting_waits_for_a_restart(superuser_sql):
    assert superuser_sql("SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"


@pytest.mark.parametrize("name", ["conf.d/ahsp.conf", "pg_hba.conf"])
def test_config_files_private(host, conf_dir, name):
    f = host.file(f"{conf_dir}/{name}")
    assert f.user == "postgres"
    assert f.group == "postgres"
    assert f.mode == 0o640
    assert f.content_string.startswith("#\n# Ansible managed")


def test_password_in_no_file(host, password):
    # The role writes it nowhere; PostgreSQL keeps only a SCRAM verifier.
    paths = "/etc /var/log /run /tmp /var/tmp /root /var/lib/postgresql"
    hits = host.run(f"grep -rlF -- {shlex.quote(password)} {paths} 2>/dev/null").stdout.split()
    assert hits == []


def test_password_not_on_any_command_line(host, password):
    assert password not in host.check_output("ps -eo args")
