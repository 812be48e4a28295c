"""pgBackRest with a local repository, on both Debian releases.

The full-stack scenario restores from a backup host (the drills); here the
role converges on Debian 12 and 13 with the repository on the database host:
PostgreSQL archives through the stanza, the first full backup exists, the
checks pass and their metrics are written, and the units are sandboxed.
"""

from __future__ import annotations

import json

from ahsp_testing import exposure


def _info(host) -> dict:
    out = host.check_output("runuser -u postgres -- pgbackrest --stanza=ahsp --output=json info")
    return json.loads(out)[0]


def test_a_full_backup_exists_and_wal_is_archived(host):
    host.check_output("systemctl start ahsp-pgbackrest-check.service")
    info = _info(host)
    assert info["status"]["code"] == 0, info["status"]
    assert [b["type"] for b in info["backup"]][:1] == ["full"]
    assert info["archive"][0]["max"], "a WAL segment is in the repository"
    metrics = host.file("/var/lib/prometheus/node-exporter/ahsp_backup.prom").content_string
    assert 'ahsp_backup_check_success{stanza="ahsp"} 1' in metrics
    assert 'ahsp_backup_verify_success{stanza="ahsp"} 1' in metrics


def test_a_backup_of_another_type_runs_through_its_unit(host):
    before = len(_info(host)["backup"])
    host.check_output("systemctl start ahsp-pgbackrest-backup@incr.service")
    backups = _info(host)["backup"]
    assert len(backups) == before + 1 and backups[-1]["type"] == "incr"


def test_the_repository_is_encrypted_and_private(host):
    repository = host.file("/var/lib/pgbackrest")
    assert (repository.user, repository.mode) == ("postgres", 0o750)
    assert _info(host)["cipher"] == "aes-256-cbc"
    assert host.file("/etc/pgbackrest/conf.d/ahsp-cipher.conf").mode == 0o640
    assert "cipher-pass" not in host.file("/etc/pgbackrest/pgbackrest.conf").content_string


def test_units_are_sandboxed(host):
    for unit in ("ahsp-pgbackrest-backup@full.service", "ahsp-pgbackrest-check.service"):
        assert exposure(host, unit) <= 3.0
