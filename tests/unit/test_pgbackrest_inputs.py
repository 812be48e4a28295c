"""The pgbackrest role's inputs and the postgresql role's archiving inputs: bad values fail, named.

Each case is a host of one inventory (connection local, so no host is
touched) whose host variables are the case's values; one ansible-playbook
run applies the role's own tasks/validate.yml (its argument specs and its
ahsp.stack.check_inputs rules) to every case at once. The tier wiring is
left out (ANSIBLE_VARS_ENABLED): these tests hold the roles' own rules.
The passphrase of the secret case never appears in the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_json import validation_play, validation_results

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "pp-'\"\\$`%-0123456789abcdef0123456789"
OK = {"pgbackrest_cipher_passphrase": "0123456789abcdef0123456789abcdef"}
REPOSITORY_HOST = {
    "pgbackrest_host_kind": "repository",
    "pgbackrest_pg_host": "10.0.0.5",
    "pgbackrest_tls_address": "10.0.0.6",
    "pgbackrest_tls_ca_dir": "/srv/ca",
    "pgbackrest_tls_client_names": ["db1"],
}

PGBACKREST_BAD = [
    ({"pgbackrest_retention_full": 0}, "pgbackrest_retention_full"),
    ({"pgbackrest_retention_diff": 0}, "pgbackrest_retention_diff"),
    ({"pgbackrest_redis_retention": 0}, "pgbackrest_redis_retention"),
    (
        {"pgbackrest_cipher_passphrase": "a" * 31},
        "pgbackrest_cipher_passphrase: must be at least 32",
    ),
    ({"pgbackrest_cipher_passphrase": "has a space " + "x" * 30}, "pgbackrest_cipher_passphrase"),
    ({"pgbackrest_repo_path": "/etc"}, "pgbackrest_repo_path"),
    ({"pgbackrest_repo_path": "/etc/pgbackrest"}, "pgbackrest_repo_path: must not be in /etc"),
    (
        {"pgbackrest_repo_path": "var/lib/pgbackrest"},
        "pgbackrest_repo_path: must be an absolute path",
    ),
    ({"pgbackrest_repo_path": "/var/lib/pgbackrest/../postgresql"}, "pgbackrest_repo_path"),
    ({"pgbackrest_repo_path": "/var/lib/postgresql/backups"}, "pgbackrest_repo_path"),
    ({"pgbackrest_repo_path": "/run/pgbackrest"}, "pgbackrest_repo_path: must not be in"),
    ({"pgbackrest_spool_path": "/var/lib/pgbackrest/spool"}, "must be separate trees"),
    ({"pgbackrest_redis_snapshot_path": "/opt/redis"}, "pgbackrest_redis_snapshot_path"),
    ({"pgbackrest_full_schedule": "Sun 25:00"}, "pgbackrest_full_schedule"),
    ({"pgbackrest_diff_schedule": "every day"}, "pgbackrest_diff_schedule"),
    ({"pgbackrest_check_schedule": "*:0/15\nOnBootSec=1"}, "pgbackrest_check_schedule"),
    ({"pgbackrest_redis_schedule": "Mon..Fry 01:00"}, "pgbackrest_redis_schedule"),
    ({"pgbackrest_archive_timeout": 61}, "pgbackrest_archive_timeout"),
    ({"pgbackrest_process_max": 0}, "pgbackrest_process_max"),
    ({"pgbackrest_compress_type": "xz"}, "pgbackrest_compress_type"),
    ({"pgbackrest_stanza": "Main Stanza"}, "pgbackrest_stanza"),
    ({"pgbackrest_host_kind": "replica"}, "pgbackrest_host_kind"),
    ({"pgbackrest_tls_port": 443}, "pgbackrest_tls_port"),
    ({"pgbackrest_repo_host": "backup host"}, "pgbackrest_repo_host"),
    ({**REPOSITORY_HOST, "pgbackrest_pg_host": ""}, "pgbackrest_pg_host is required"),
    ({"pgbackrest_repo_host": "10.0.0.6"}, "pgbackrest_tls_address, pgbackrest_tls_ca_dir"),
    (
        {**REPOSITORY_HOST, "pgbackrest_tls_client_names": ["db 1"]},
        "pgbackrest_tls_client_names[0]",
    ),
    ({"pgbackrest_peer_release": "trixie"}, "pgbackrest_peer_release: the other host"),
    ({"pgbackrest_redis_snapshots": True}, "pgbackrest_redis_password is required"),
    ({"pgbackrest_redis_address": "redis:port"}, "pgbackrest_redis_address"),
]
PGBACKREST_GOOD = {
    "defaults": {},
    "a repository host": {
        **REPOSITORY_HOST,
        "pgbackrest_peer_release": "bookworm",
        "pgbackrest_redis_snapshots": True,
        "pgbackrest_redis_password": "r" * 16,
        "pgbackrest_redis_address": "[fd00::7]:6380",
    },
    "edge values": {
        "pgbackrest_retention_full": 1,
        "pgbackrest_archive_timeout": "60",
        "pgbackrest_repo_path": "/srv/pgbackrest/repo",
        "pgbackrest_spool_path": "/var/spool/pgbackrest",
        "pgbackrest_full_schedule": "weekly",
        "pgbackrest_diff_schedule": "Mon..Fri,Sun *-*-* 2:05",
        "pgbackrest_check_schedule": "*-*-* 0/2:00,30:00",
        "pgbackrest_redis_schedule": "Sat,Sun 2025-*-01 23:59:59",
    },
    "a repository on a mounted disk": {
        "ahsp_owned_dirs_extra": ["/mnt/backup"],
        "pgbackrest_repo_path": "/mnt/backup/pgbackrest",
    },
}
PGBACKREST_PLAY = validation_play("The pgbackrest role's validation alone", ["pgbackrest"])

ARCHIVE = {
    "archive_mode": "on",
    "archive_command": "pgbackrest --stanza=ahsp archive-push %p",
    "archive_timeout": 60,
    "wal_level": "replica",
}
POSTGRESQL_BAD = [
    (
        {"postgresql_extra_config": {"archive_command": "cp %p /x"}},
        "postgresql_extra_config['archive_command']",
    ),
    (
        {"postgresql_extra_config": {"restore_command": "cp /x %p"}},
        "postgresql_extra_config['restore_command']",
    ),
    (
        {
            "postgresql_extra_config": {"archive_command": "x"},
            "postgresql_extra_config_unsafe_settings": ["archive_*"],
        },
        "postgresql_extra_config['archive_command']",
    ),
    ({"postgresql_extra_config": {"wal_level": "minimal"}}, "postgresql_extra_config['wal_level']"),
    (
        {
            "postgresql_archive_settings": {
                **ARCHIVE,
                "archive_command": "rsync %p backup:/x; rm -rf /",
            }
        },
        "postgresql_archive_settings.archive_command",
    ),
    (
        {"postgresql_archive_settings": {**ARCHIVE, "archive_timeout": 0}},
        "postgresql_archive_settings.archive_timeout",
    ),
    (
        {"postgresql_archive_settings": {**ARCHIVE, "wal_level": "minimal"}},
        "postgresql_archive_settings.wal_level",
    ),
    ({"postgresql_archive_settings": {"archive_mode": "on"}}, "turns archive_mode on, so it needs"),
    (
        {"postgresql_archive_settings": {**ARCHIVE, "restore_command": "x"}},
        "postgresql_archive_settings: has a field",
    ),
    ({"postgresql_archive_writable_paths": ["/etc"]}, "postgresql_archive_writable_paths[0]"),
    (
        {"postgresql_archive_writable_paths": ["relative/path"]},
        "postgresql_archive_writable_paths[0]",
    ),
]
POSTGRESQL_GOOD = {
    "no archiving": {},
    "archiving as the wiring gives it": {
        "postgresql_archive_settings": ARCHIVE,
        "postgresql_archive_writable_paths": [
            "/var/log/pgbackrest",
            "/run/pgbackrest",
            "/var/spool/pgbackrest",
            "/var/lib/pgbackrest",
        ],
    },
    "archive_mode as a YAML boolean": {
        "postgresql_archive_settings": {**ARCHIVE, "archive_mode": True}
    },
}
POSTGRESQL_PLAY = validation_play("The postgresql role's validation alone", ["postgresql"])


@pytest.fixture(scope="module")
def pgbackrest_runs(tmp_path_factory) -> tuple[dict[str, dict], str]:
    cases = {f"bad-{i}": {**OK, **extra} for i, (extra, _) in enumerate(PGBACKREST_BAD)}
    cases.update({f"good-{i}": {**OK, **extra} for i, extra in enumerate(PGBACKREST_GOOD.values())})
    cases["secret"] = {"pgbackrest_cipher_passphrase": PASSPHRASE, "pgbackrest_retention_full": 0}
    cases["secret-short"] = {"pgbackrest_cipher_passphrase": PASSPHRASE[:31]}
    return validation_results(tmp_path_factory.mktemp("pgbackrest"), PGBACKREST_PLAY, cases)


@pytest.fixture(scope="module")
def postgresql_runs(tmp_path_factory) -> tuple[dict[str, dict], str]:
    base = {"postgresql_db_password": "0123456789abcdefXYZ"}
    cases = {f"bad-{i}": {**base, **extra} for i, (extra, _) in enumerate(POSTGRESQL_BAD)}
    cases.update(
        {f"good-{i}": {**base, **extra} for i, extra in enumerate(POSTGRESQL_GOOD.values())}
    )
    return validation_results(tmp_path_factory.mktemp("postgresql"), POSTGRESQL_PLAY, cases)


def test_at_least_twelve_bad_inputs_of_each_kind():
    assert len(PGBACKREST_BAD) >= 12
    assert len(PGBACKREST_BAD) + len(POSTGRESQL_BAD) >= 30


@pytest.mark.parametrize(("extra", "named"), PGBACKREST_BAD, ids=[n for _, n in PGBACKREST_BAD])
def test_a_bad_pgbackrest_input_fails_naming_it(pgbackrest_runs, extra, named):
    results, _ = pgbackrest_runs
    result = results[f"bad-{PGBACKREST_BAD.index((extra, named))}"]
    assert result.get("failed"), result
    assert named in result["msg"], result["msg"]
    assert "invalid input(s), nothing was changed" in result["msg"], result["msg"]


@pytest.mark.parametrize("name", list(PGBACKREST_GOOD))
def test_good_pgbackrest_inputs_pass(pgbackrest_runs, name):
    results, _ = pgbackrest_runs
    result = results[f"good-{list(PGBACKREST_GOOD).index(name)}"]
    assert not result.get("failed"), result.get("msg")
    assert result["msg"].endswith("inputs valid"), result


def test_the_passphrase_is_never_shown(pgbackrest_runs):
    results, output = pgbackrest_runs
    assert results["secret"].get("failed")
    assert "pgbackrest_retention_full" in results["secret"]["msg"]
    assert (
        "pgbackrest_cipher_passphrase: must be at least 32 characters"
        in results["secret-short"]["msg"]
    )
    assert PASSPHRASE not in output
    assert PASSPHRASE[:31] not in output


@pytest.mark.parametrize(("extra", "named"), POSTGRESQL_BAD, ids=[n for _, n in POSTGRESQL_BAD])
def test_a_bad_archiving_input_of_the_postgresql_role_fails_naming_it(
    postgresql_runs, extra, named
):
    results, _ = postgresql_runs
    result = results[f"bad-{POSTGRESQL_BAD.index((extra, named))}"]
    assert result.get("failed"), result
    assert named in result["msg"], result["msg"]


@pytest.mark.parametrize("name", list(POSTGRESQL_GOOD))
def test_good_archiving_inputs_of_the_postgresql_role_pass(postgresql_runs, name):
    results, _ = postgresql_runs
    result = results[f"good-{list(POSTGRESQL_GOOD).index(name)}"]
    assert not result.get("failed"), result.get("msg")
