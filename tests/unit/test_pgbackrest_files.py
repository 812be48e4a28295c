"""The pgbackrest role's files, rendered by Ansible and read back the way their readers read them.

- pgbackrest.conf (with the passphrase's include) is read by Debian's own
  pgBackRest (`pgbackrest --config=FILE help backup OPTION` prints the
  value it took, `current: ...`), which reports every given value as given
  and warns about nothing; the role's validator refuses what pgBackRest
  warns about;
- each unit's sandbox is scored by `systemd-analyze security --offline`
  (Debian's pgbackrest.service with the role's drop-in for the TLS server);
- the schedules' allow-list is inside what `systemd-analyze calendar`
  accepts (Hypothesis draws values from the pattern itself);
- the passphrase is only in the two secret files, and a check-mode run of
  the role's configure step with --diff and -vvv never shows it.

pgBackRest comes from build/tools/, which scripts/pgbackrest-tool.sh fills
with Debian's package (extracted, never installed) on its first run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pgbackrest"
TOOLS = ROOT / "build" / "tools"
PASSPHRASE = "pp-'\"\\$`%-0123456789abcdef0123456789"
REDIS_PASSWORD = "redis-'\"\\$`-0123456789"
VALUES = {
    "pgbackrest_cipher_passphrase": PASSPHRASE,
    "pgbackrest_stanza": "main-db",
    "pgbackrest_repo_path": "/srv/pgbackrest/repo",
    "pgbackrest_spool_path": "/var/spool/pgbackrest/queue",
    "pgbackrest_retention_full": 3,
    "pgbackrest_retention_diff": 9,
    "pgbackrest_compress_type": "lz4",
    "pgbackrest_process_max": 3,
    "pgbackrest_pg_port": 5433,
    "pgbackrest_full_schedule": "Sat *-*-* 02:00:00",
    "pgbackrest_redis_snapshots": True,
    "pgbackrest_redis_password": REDIS_PASSWORD,
    "pgbackrest_redis_address": "[fd00::7]:6380",
}
REPOSITORY = {
    **VALUES,
    "pgbackrest_host_kind": "repository",
    "pgbackrest_pg_host": "10.0.0.5",
    "pgbackrest_tls_address": "10.0.0.6",
    "pgbackrest_tls_port": 8433,
    "pgbackrest_tls_ca_dir": "/srv/ca",
    "pgbackrest_tls_client_names": ["db1", "db2"],
}


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_VARS_ENABLED": "host_group_vars",
        "ANSIBLE_NOCOLOR": "1",
    }


def _playbook(tmp: Path, plays: list[dict], extra: dict, *flags: str):
    (tmp / "hosts.yml").write_text(
        json.dumps({"all": {"hosts": {"h1": {"ansible_connection": "local",
                                             "ansible_python_interpreter": sys.executable}}}})
    )  # fmt: skip
    (tmp / "play.yml").write_text(json.dumps(plays))
    (tmp / "extra.json").write_text(json.dumps(extra))
    return subprocess.run(
        ["ansible-playbook", "-i", str(tmp / "hosts.yml"), str(tmp / "play.yml"),
         "--extra-vars", f"@{tmp / 'extra.json'}", *flags],
        capture_output=True, text=True, env=_env(), timeout=600, check=False,
    )  # fmt: skip


def render(tmp: Path, extra: dict) -> Path:
    """Every file of the role's configure step rendered with ``extra``, by base name."""
    out = tmp / "out"
    # The timers are rendered by a template lookup, found in the play's templates/.
    (tmp / "templates").symlink_to(ROLE / "templates")
    play = {
        "hosts": "h1",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [
            {"ansible.builtin.set_fact": {"ansible_facts": {"distribution_release": "bookworm"}}},
            {"ansible.builtin.file": {"path": str(out), "state": "directory", "mode": "0700"}},
            {
                "ansible.builtin.copy": {
                    "dest": str(out) + "/{{ item.dest | basename }}",
                    "content": "{{ item.content if item.content is defined else "
                    "lookup('ansible.builtin.template', item.template) if item.template is defined "
                    "else lookup('ansible.builtin.file', '"
                    + str(ROLE / "files")
                    + "/' ~ item.src) }}",
                    "mode": "0600",
                },
                "loop": "{{ __pgbackrest_files | selectattr('state', 'undefined') "
                "| list + __pgbackrest_files | selectattr('state', 'defined') "
                "| selectattr('state', 'eq', 'present') | list }}",
                "loop_control": {"label": "{{ item.dest }}"},
                "no_log": True,
            },
            {
                "ansible.builtin.copy": {
                    "dest": str(out) + "/plan.json",
                    "mode": "0600",
                    "content": "{{ {'calendar': __pgbackrest_calendar_pattern, "
                    "'secret': __pgbackrest_files | selectattr('secret', 'defined') "
                    "| map(attribute='dest') | map('basename') | list} | to_json }}",
                },
            },
        ],
    }
    run = _playbook(tmp, [play], extra)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("local"), VALUES)


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("repository"), REPOSITORY)


@pytest.fixture(scope="module")
def pgbackrest() -> Path:
    if not (TOOLS / "pgbackrest").exists() or not (TOOLS / "units" / "pgbackrest.service").exists():
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "pgbackrest-tool.sh")], check=True, timeout=600
        )
    return TOOLS / "pgbackrest"


def config_dir(rendered: Path, tmp: Path) -> Path:
    """pgbackrest.conf and its conf.d/ as the role lays them out."""
    (tmp / "conf.d").mkdir()
    shutil.copy(rendered / "pgbackrest.conf", tmp / "pgbackrest.conf")
    shutil.copy(rendered / "ahsp-cipher.conf", tmp / "conf.d" / "ahsp-cipher.conf")
    return tmp


# Options `help backup` does not know: those of WAL archiving.
ARCHIVE_OPTIONS = {"archive-async", "spool-path", "repo1-host-port"}


def current(pgbackrest: Path, conf: Path, stanza: str, option: str) -> str:
    """The value pgBackRest takes for ``option`` (its `help` says `current: VALUE`)."""
    command = "archive-push" if option in ARCHIVE_OPTIONS else "backup"
    run = subprocess.run(
        [str(pgbackrest), f"--config={conf / 'pgbackrest.conf'}",
         f"--config-include-path={conf / 'conf.d'}", f"--stanza={stanza}", "help", command, option],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "WARN" not in run.stdout + run.stderr, run.stdout + run.stderr
    match = re.search(r"^current: (.*)$", run.stdout, re.MULTILINE)
    return match[1] if match else ""


def test_pgbackrest_reads_the_local_repository_configuration_as_given(local, pgbackrest, tmp_path):
    conf = config_dir(local, tmp_path)
    expected = {
        "repo1-path": "/srv/pgbackrest/repo",
        "repo1-retention-full": "3",
        "repo1-retention-diff": "9",
        "repo1-cipher-type": "aes-256-cbc",
        "repo1-cipher-pass": "<redacted>",
        "compress-type": "lz4",
        "process-max": "3",
        "archive-async": "true",
        "spool-path": "/var/spool/pgbackrest/queue",
        "lock-path": "/run/pgbackrest",
        "log-path": "/var/log/pgbackrest",
        "start-fast": "true",
        "pg1-path": "/var/lib/postgresql/15/main",
        "pg1-port": "5433",
        "pg1-socket-path": "/var/run/postgresql",
    }
    got = {option: current(pgbackrest, conf, "main-db", option) for option in expected}
    assert got == expected
    # No repository host: nothing of TLS.
    assert current(pgbackrest, conf, "main-db", "repo1-host") == ""
    assert "tls-server" not in (local / "pgbackrest.conf").read_text()


def test_pgbackrest_reads_the_repository_hosts_configuration_as_given(
    repository, pgbackrest, tmp_path
):
    conf = config_dir(repository, tmp_path)
    expected = {
        "repo1-path": "/srv/pgbackrest/repo",
        "repo1-cipher-pass": "<redacted>",
        "pg1-host": "10.0.0.5",
        "pg1-host-type": "tls",
        "pg1-host-port": "8433",
        "pg1-host-cert-file": "/etc/pgbackrest/tls/h1.crt",
        "pg1-host-key-file": "/etc/pgbackrest/tls/h1.key",
        "pg1-host-ca-file": "/etc/pgbackrest/tls/ca.crt",
        "pg1-path": "/var/lib/postgresql/15/main",
    }
    got = {option: current(pgbackrest, conf, "main-db", option) for option in expected}
    assert got == expected
    text = (repository / "pgbackrest.conf").read_text()
    assert "tls-server-address=10.0.0.6\n" in text
    assert "tls-server-auth=db1=main-db\ntls-server-auth=db2=main-db\n" in text
    # The repository host archives nothing itself.
    assert "archive-async" not in text and "spool-path" not in text


def test_the_db_host_with_a_repository_host_reaches_it_over_tls_and_holds_no_passphrase(
    tmp_path, pgbackrest
):
    values = {
        **VALUES,
        "pgbackrest_repo_host": "10.0.0.6",
        "pgbackrest_tls_address": "10.0.0.5",
        "pgbackrest_tls_ca_dir": "/srv/ca",
        "pgbackrest_tls_client_names": ["backup1"],
    }
    rendered = render(tmp_path, values)
    text = (rendered / "pgbackrest.conf").read_text()
    assert "repo1-host=10.0.0.6\nrepo1-host-type=tls\n" in text
    assert "repo1-path" not in text and "repo1-cipher" not in text
    assert not (rendered / "ahsp-cipher.conf").exists()
    assert not (rendered / "cipher-passphrase").exists()
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(rendered / "pgbackrest.conf", conf / "pgbackrest.conf")
    (conf / "conf.d").mkdir()
    assert current(pgbackrest, conf, "main-db", "repo1-host-port") == "8432"
    assert current(pgbackrest, conf, "main-db", "archive-async") == "true"


def test_the_validator_accepts_the_rendered_file_and_refuses_what_pgbackrest_warns_about(
    local, pgbackrest, tmp_path
):
    validator = ROLE / "files" / "pgbackrest-validate-config"
    env = {**os.environ, "PATH": f"{pgbackrest.parent}:{os.environ['PATH']}"}
    good = tmp_path / "good.conf"
    good.write_text((local / "pgbackrest.conf").read_text())
    ok = subprocess.run(
        ["sh", str(validator), "main-db", str(good)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    for bad_line in ("repo1-retention-ful=3", "process-max=9999", "compress-type=xz"):
        bad = tmp_path / "bad.conf"
        bad.write_text(good.read_text().replace("[main-db]", bad_line + "\n\n[main-db]"))
        run = subprocess.run(
            ["sh", str(validator), "main-db", str(bad)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode != 0, bad_line
        assert run.stderr.strip(), bad_line


def test_the_passphrase_is_only_in_the_secret_files(local, repository):
    for rendered in (local, repository):
        secret = json.loads((rendered / "plan.json").read_text())["secret"]
        for path in rendered.iterdir():
            text = path.read_text()
            if PASSPHRASE in text or REDIS_PASSWORD in text:
                assert path.name in secret, path.name
        assert (
            rendered / "ahsp-cipher.conf"
        ).read_text() == f"[global]\nrepo1-cipher-pass={PASSPHRASE}\n"
        assert (rendered / "cipher-passphrase").read_text() == PASSPHRASE + "\n"
        assert (rendered / "redis-password").read_text() == REDIS_PASSWORD + "\n"


SANDBOXED = {
    "ahsp-pgbackrest-backup@.service": "ahsp-pgbackrest-backup@full.service",
    "ahsp-pgbackrest-check.service": "ahsp-pgbackrest-check.service",
    "ahsp-redis-snapshot.service": "ahsp-redis-snapshot.service",
}


def _score(unit: Path) -> float:
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Unknown key" not in run.stderr and "Failed to parse" not in run.stderr, run.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout[-2000:] + run.stderr[-2000:]
    return float(match[1])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("name", list(SANDBOXED))
def test_each_unit_scores_at_most_3(repository, tmp_path, name):
    unit = tmp_path / SANDBOXED[name]
    unit.write_text((repository / name).read_text())
    assert _score(unit) <= 3.0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_tls_server_with_the_drop_in_scores_at_most_3(repository, pgbackrest, tmp_path):
    unit = tmp_path / "pgbackrest.service"
    debian = (TOOLS / "units" / "pgbackrest.service").read_text()
    unit.write_text(debian + "\n" + (repository / "ahsp.conf").read_text())
    assert _score(unit) <= 3.0
    bare = tmp_path / "bare" / "pgbackrest.service"
    bare.parent.mkdir()
    bare.write_text(debian)
    assert _score(bare) > 5.0  # what the drop-in is for


def test_the_timers_run_their_units_on_their_schedules(local):
    full = (local / "ahsp-pgbackrest-full.timer").read_text()
    assert "OnCalendar=Sat *-*-* 02:00:00\n" in full
    assert "Unit=ahsp-pgbackrest-backup@full.service\n" in full
    assert "Persistent=true\n" in full
    assert (
        "Unit=ahsp-pgbackrest-check.service" in (local / "ahsp-pgbackrest-check.timer").read_text()
    )
    backup = (local / "ahsp-pgbackrest-backup@.service").read_text()
    assert (
        "ExecStart=/usr/bin/pgbackrest --stanza=main-db --type=%i --log-level-console=info backup\n"
        in backup
    )
    assert (
        "ReadWritePaths=/var/log/pgbackrest /run/pgbackrest"
        " /var/spool/pgbackrest/queue /srv/pgbackrest/repo\n" in backup
    )
    snapshot = (local / "ahsp-redis-snapshot.service").read_text()
    assert (
        "redis-snapshot fd00::7 6380 ahsp-backup /var/lib/pgbackrest-redis 9"
        " /etc/pgbackrest/redis-password /etc/pgbackrest/cipher-passphrase\n"
    ) in snapshot


CALENDAR_ACCEPTED = [
    "daily", "weekly", "hourly", "Sun *-*-* 01:30:00", "Mon..Sat *-*-* 01:30:00", "*:0/15",
    "Mon..Fri,Sun 2:05", "*-*-01 03:00", "2025-*-* 0/6:00", "Sat,Sun 23:59:59", "*-*-* 1,13:00",
    "*-*-* 00/12:00/30",
]  # fmt: skip
CALENDAR_REFUSED = [
    "Sun 25:00", "*-*-32 01:00", "Mon..Fry 01:00", "every day", "", "01:60", "*-13-01 01:00",
    "daily; rm -rf /", "*:0/15\nOnBootSec=1", "Sun\t01:00", "1h", "18/6:00", "*:50/10",
    "9999-01-01 00:00",
]  # fmt: skip


def _systemd_accepts(values: list[str]) -> dict[str, bool]:
    """Whether `systemd-analyze calendar` takes each value (all at once first, then one by one)."""
    if not values:
        return {}
    run = subprocess.run(["systemd-analyze", "calendar", *values], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    if run.returncode == 0:
        return dict.fromkeys(values, True)
    accepted = {}
    for value in values:
        run = subprocess.run(["systemd-analyze", "calendar", value], capture_output=True,
                             text=True, timeout=30, check=False)  # fmt: skip
        accepted[value] = run.returncode == 0
    return accepted


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_schedule_allow_list_against_systemd(local):
    pattern = re.compile(json.loads((local / "plan.json").read_text())["calendar"])
    assert all(pattern.match(v) for v in CALENDAR_ACCEPTED), [
        v for v in CALENDAR_ACCEPTED if not pattern.match(v)
    ]
    assert all(_systemd_accepts(CALENDAR_ACCEPTED).values())
    assert not any(pattern.match(v) for v in CALENDAR_REFUSED), [
        v for v in CALENDAR_REFUSED if pattern.match(v)
    ]
    systemd = _systemd_accepts([v for v in CALENDAR_REFUSED if "\n" not in v and "\t" not in v])
    assert not any(v for k, v in systemd.items() if k not in ("1h",)), systemd


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_every_schedule_the_allow_list_accepts_systemd_accepts(local):
    pattern = json.loads((local / "plan.json").read_text())["calendar"]
    drawn: list[str] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(pattern, fullmatch=True))
    def collect(value: str) -> None:
        drawn.append(value)

    collect()
    rejected = {v for v, ok in _systemd_accepts(sorted(set(drawn))).items() if not ok}
    assert not rejected, rejected


def test_a_check_mode_run_never_shows_the_passphrase(tmp_path):
    """validate and configure in check mode, --diff, -vvv: nothing written, no secret shown."""
    play = {
        "hosts": "h1",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.set_fact": {"ansible_facts": {"distribution": "Debian",
                                                            "distribution_release": "bookworm"}}},
            {"ansible.builtin.include_role": {"name": "pgbackrest", "tasks_from": "validate"}},
            {"ansible.builtin.include_role": {"name": "pgbackrest", "tasks_from": "configure"}},
        ],
    }  # fmt: skip
    values = {**VALUES, "pgbackrest_repo_path": "/var/lib/pgbackrest/unit-test"}
    run = _playbook(tmp_path, [play], values, "--check", "--diff", "-vvv")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "ahsp-pgbackrest-full.timer" in output  # the diff of the non-secret files is shown
    assert PASSPHRASE not in output
    assert REDIS_PASSWORD not in output
    assert not Path("/var/lib/pgbackrest/unit-test").exists()
    assert not Path("/etc/pgbackrest/pgbackrest.conf").exists()
