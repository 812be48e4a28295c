"""The prometheus_exporters role on the controller: its input checks, and the files it renders.

Bad values fail the role's validation and the message names the variable
(and never shows the Redis password). The files are rendered by Ansible from
the role's own templates and read back the way their readers read them:
systemd's EnvironmentFile= parser for the /etc/default files (then ARGS split
at white space, as `ExecStart=... $ARGS` does), and `systemd-analyze
security --offline` for Debian's unit with the role's drop-in.
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

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "prometheus_exporters"
PASSWORD = "ex-'\"\\$`%-0123456789"

# Debian's units (the same in Debian 12 and 13, but for the Documentation= lines
# left out here): what the drop-ins add to.
DEBIAN_UNITS = {
    "node": """[Unit]
Description=Prometheus exporter for machine metrics

[Service]
Restart=on-failure
User=prometheus
EnvironmentFile=/etc/default/prometheus-node-exporter
ExecStart=/usr/bin/prometheus-node-exporter $ARGS
ExecReload=/bin/kill -HUP $MAINPID
TimeoutStopSec=20s
SendSIGKILL=no

[Install]
WantedBy=multi-user.target
""",
    "redis": """[Unit]
Description=Prometheus exporter for Redis metrics

[Service]
Restart=on-failure
User=prometheus
EnvironmentFile=/etc/default/prometheus-redis-exporter
ExecStart=/usr/bin/prometheus-redis-exporter $ARGS
ExecReload=/bin/kill -HUP $MAINPID
TimeoutStopSec=20s
SendSIGKILL=no

[Install]
WantedBy=multi-user.target
""",
    "postgres": """[Unit]
Description=Prometheus exporter for PostgreSQL

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus-postgres-exporter
ExecStart=/usr/bin/prometheus-postgres-exporter $ARGS
Restart=on-failure

[Install]
WantedBy=multi-user.target
""",
    "nginx": """[Unit]
Description=NGINX Prometheus Exporter
After=network.target nginx.service

[Service]
Restart=on-failure
User=prometheus
EnvironmentFile=/etc/default/prometheus-nginx-exporter
ExecStart=/usr/bin/prometheus-nginx-exporter $ARGS

[Install]
WantedBy=multi-user.target
""",
}
ALL_ON = {
    "prometheus_exporters_redis": True,
    "prometheus_exporters_postgres": True,
    "prometheus_exporters_nginx": True,
    "prometheus_exporters_redis_password": PASSWORD,
}


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
    }


def _playbook(tmp_path: Path, plays: list[dict], extra: dict) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hosts.yml").write_text(
        json.dumps({"all": {"hosts": {"h1": {"ansible_connection": "local",
                                             "ansible_python_interpreter": sys.executable}}}})
    )  # fmt: skip
    (tmp_path / "play.yml").write_text(json.dumps(plays))
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    return subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
         "--extra-vars", f"@{tmp_path / 'extra.json'}"],
        capture_output=True, text=True, env=_env(), timeout=300, check=False,
    )  # fmt: skip


def validate(tmp_path: Path, extra: dict, facts: bool = False) -> subprocess.CompletedProcess[str]:
    """The role's validation alone (as the preflight includes it), on this machine."""
    tasks: list[dict] = []
    if facts:
        tasks.append({"ansible.builtin.setup": {"gather_subset": ["!all", "!min", "network"]}})
    tasks.append(
        {"ansible.builtin.include_role": {"name": "prometheus_exporters", "tasks_from": "validate"}}
    )
    return _playbook(tmp_path, [{"hosts": "h1", "gather_facts": False, "tasks": tasks}], extra)


def test_the_defaults_pass(tmp_path):
    run = validate(tmp_path, {})
    assert run.returncode == 0, run.stdout[-3000:]


def test_every_exporter_on_passes(tmp_path):
    extra = {
        **ALL_ON,
        "prometheus_exporters_listen_address": "::1",
        "prometheus_exporters_allowed_clients": ["10.0.9.0/24", "fd00::7"],
        "prometheus_exporters_redis_address": "[fd00::6]:6380",
        "prometheus_exporters_nginx_status_url": "http://[::1]:8081/stub_status",
        # A number given as its own decimal text (-e) is the same number.
        "prometheus_exporters_node_listen_port": "9200",
    }
    run = validate(tmp_path, extra)
    assert run.returncode == 0, run.stdout[-3000:]
    assert PASSWORD not in run.stdout + run.stderr


P = "prometheus_exporters_"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        # Words that would become flags of their own on the exporter's command line.
        ("listen_address", "0.0.0.0 --web.x"),
        ("listen_address", "localhost"),
        ("node_listen_port", 70000),
        ("redis_listen_port", "9121 --debug"),
        ("allowed_clients", ["10.0.0.0/255.0.0.0"]),
        # A list given as text: the template would loop over its characters.
        ("allowed_clients", "10.0.0.0/8"),
        ("redis_user", "bad user"),
        ("redis_address", "localhost:6379"),
        ("redis_address", "127.0.0.1:6379/0"),
        ("nginx_status_url", "ftp://x"),
        ("nginx_status_url", "http://user:secret@127.0.0.1:8081/stub_status"),
        ("nginx_status_url", "http://localhost:8081/stub_status"),
        ("nginx_status_url", "http://127.0.0.1:8081/s?x=1 --web.y"),
        ("nginx_status_url", "http://127.0.0.1:70000/stub_status"),
        ("nginx_status_url", "http://[:]:8081/stub_status"),
        ("postgres_socket_dir", "var/run/postgresql"),
        ("postgres_socket_dir", "/run/pg sql"),
        ("postgres_user", "prometheus dbname=x"),
        ("postgres_database", "Postgres"),
        ("redis", "maybe"),
    ],
    ids=lambda v: json.dumps(v),
)
def test_a_bad_value_fails_and_names_the_variable(tmp_path, variable, value):
    run = validate(tmp_path, {P + variable: value})
    assert run.returncode != 0, run.stdout[-3000:]
    assert f"- {P}{variable}" in run.stdout or f"'{P}{variable}'" in run.stdout, run.stdout[-3000:]
    assert "nothing was changed" in run.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({P + "redis": True}, f"{P}redis is on, so {P}redis_password is required"),
        (
            {**ALL_ON, P + "nginx_listen_port": 9100},
            f"{P}*_listen_port: the enabled exporters share {P}listen_address",
        ),
    ],
    ids=["redis without password", "two exporters on one port"],
)
def test_values_that_do_not_fit_together_fail(tmp_path, extra, message):
    run = validate(tmp_path, extra)
    assert run.returncode != 0, run.stdout[-3000:]
    assert message in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize(
    "password",
    [
        "Zq7-one\nZq7-two-0123456789",
        "Zq7-one Zq7-two-0123456789",
        "Zq7-short",
        "Zq7-one\tZq7-two-0123456789",
    ],
    ids=["newline", "space", "short", "tab"],
)
def test_a_bad_redis_password_is_refused_and_never_shown(tmp_path, password):
    run = validate(tmp_path, {P + "redis": True, P + "redis_password": password})
    assert run.returncode != 0, run.stdout[-3000:]
    assert f"{P}redis_password" in run.stdout, run.stdout[-3000:]
    for part in password.split():
        assert part not in run.stdout + run.stderr, part


def test_a_listen_address_this_host_does_not_have_is_refused(tmp_path):
    run = validate(tmp_path, {"prometheus_exporters_listen_address": "192.0.2.99"}, facts=True)
    assert run.returncode != 0, run.stdout[-3000:]
    assert f"{P}listen_address: 192.0.2.99 is not an address of this host" in run.stdout


# --- Rendered files --------------------------------------------------------------------------

TEMPLATES = {
    "node": ("node.default.j2", "node.sandbox.conf.j2"),
    "redis": ("redis.default.j2", "redis.sandbox.conf.j2"),
    "postgres": ("postgres.default.j2", "postgres.sandbox.conf.j2"),
    "nginx": ("nginx.default.j2", "nginx.sandbox.conf.j2"),
}
RENDER_VALUES = {
    **ALL_ON,
    "prometheus_exporters_listen_address": "fd00::5",
    "prometheus_exporters_allowed_clients": ["10.0.9.0/24", "fd00::7"],
    "prometheus_exporters_redis_address": "10.0.0.6:6380",
    "prometheus_exporters_redis_user": "ahsp.exporter@x+1",
    "prometheus_exporters_nginx_status_url": "http://10.0.0.8:8081/nginx_status",
    "prometheus_exporters_postgres_socket_dir": "/run/postgresql",
    "prometheus_exporters_postgres_database": "ahsp_db",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """Every template of the role rendered by Ansible with RENDER_VALUES, in one directory."""
    out = tmp_path_factory.mktemp("rendered")
    names = [name for pair in TEMPLATES.values() for name in pair] + ["redis-auth.default.j2"]
    play = {
        "hosts": "h1",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [
            {
                "ansible.builtin.template": {
                    "src": str(ROLE / "templates") + "/{{ item }}",
                    "dest": str(out) + "/{{ item | regex_replace('[.]j2$', '') }}",
                    "mode": "0600",
                },
                "loop": names,
            },
            {
                "ansible.builtin.copy": {
                    "content": "{{ {'files': __prometheus_exporters_files, "
                    "'packages': __prometheus_exporters_packages} | to_json }}",
                    "dest": str(out) + "/plan.json",
                    "mode": "0600",
                }
            },
        ],
    }
    run = _playbook(out, [play], RENDER_VALUES)
    assert run.returncode == 0, run.stdout[-3000:]
    return out


def read_environment_file(text: str) -> dict[str, str]:
    """The variables of an EnvironmentFile= as systemd reads them (systemd.exec(5)).

    Only what the role writes is needed: comments, and VALUE unquoted or in
    double quotes, where a backslash before one of " \\ ` $ stands for that
    character and any other backslash is kept.
    """
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        key, _, raw = line.partition("=")
        raw = raw.strip()
        if raw.startswith('"'):
            assert raw.endswith('"') and len(raw) >= 2, line
            raw = re.sub(r'\\(["\\`$])', r"\1", raw[1:-1])
        values[key.strip()] = raw
    return values


def test_every_argument_reads_back_as_one_word(rendered):
    """systemd splits $ARGS at white space: each flag is one word, with the value given."""
    listen = "[fd00::5]"
    expected = {
        "node": [f"--web.listen-address={listen}:9100",
                 "--collector.textfile.directory=/var/lib/prometheus/node-exporter"],
        "redis": [f"--web.listen-address={listen}:9121", "--redis.addr=redis://10.0.0.6:6380",
                  "--redis.user=ahsp.exporter@x+1", "--config-command=-",
                  "--set-client-name=false"],
        "postgres": [f"--web.listen-address={listen}:9187"],
        "nginx": [f"--web.listen-address={listen}:9113",
                  "--nginx.scrape-uri=http://10.0.0.8:8081/nginx_status"],
    }  # fmt: skip
    for name, words in expected.items():
        values = read_environment_file((rendered / f"{name}.default").read_text())
        assert values["ARGS"].split() == words, name
    dsn = read_environment_file((rendered / "postgres.default").read_text())["DATA_SOURCE_NAME"]
    assert dsn == "user=prometheus host=/run/postgresql port=5432 dbname=ahsp_db sslmode=disable"


def test_the_redis_password_is_alone_in_its_file_and_reads_back(rendered):
    auth = read_environment_file((rendered / "redis-auth.default").read_text())
    assert auth == {"REDIS_PASSWORD": PASSWORD}
    for name in TEMPLATES:
        for produced in (f"{name}.default", f"{name}.sandbox.conf"):
            assert PASSWORD not in (rendered / produced).read_text(), produced
    plan = json.loads((rendered / "plan.json").read_text())
    (auth_item,) = [f for f in plan["files"] if f["dest"].endswith("-auth")]
    assert auth_item["secret"] is True
    assert auth_item["mode"] == "0600"


def setting(rendered: Path, name: str, key: str) -> str:
    """The value of one setting of an exporter's rendered drop-in."""
    text = (rendered / f"{name}.sandbox.conf").read_text()
    return re.search(rf"^{key}=(.*)$", text, re.MULTILINE)[1]


def test_each_exporter_reaches_only_its_peers(rendered):
    """The IP firewall: loopback, the listen address, the monitoring hosts, what each one reads."""
    base = "localhost fd00::5 10.0.9.0/24 fd00::7"
    allowed = {name: setting(rendered, name, "IPAddressAllow") for name in TEMPLATES}
    assert allowed == {
        "node": base,
        "redis": base + " 10.0.0.6",
        "postgres": base,
        "nginx": base + " 10.0.0.8",
    }
    families = {name: setting(rendered, name, "RestrictAddressFamilies") for name in TEMPLATES}
    # The Redis exporter has no Unix sockets: no /scrape?target=unix://... reaches one.
    assert families["redis"] == "AF_INET AF_INET6"
    assert "AF_UNIX" in families["postgres"]


def test_the_node_exporter_sees_the_host(rendered):
    """PID 1's mount table, all of /proc, the clock's state: for filesystem and timex metrics."""
    text = (rendered / "node.sandbox.conf").read_text()
    for key in ("ProtectProc=", "ProcSubset=", "ProtectClock="):
        assert f"\n{key}" not in text, key
    assert "\nProtectHome=read-only\n" in text
    assert "\nSystemCallFilter=adjtimex clock_adjtime\n" in text


def test_an_exporter_that_is_off_is_left_alone(tmp_path):
    """Only the node exporter by default: no file or package of the others."""
    play = {
        "hosts": "h1",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [
            {
                "ansible.builtin.copy": {
                    "content": "{{ {'files': __prometheus_exporters_files"
                    " | map(attribute='dest') | list,"
                    " 'packages': __prometheus_exporters_packages} | to_json }}",
                    "dest": str(tmp_path / "plan.json"),
                    "mode": "0600",
                }
            }
        ],
    }
    run = _playbook(tmp_path, [play], {})
    assert run.returncode == 0, run.stdout[-3000:]
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["packages"] == ["prometheus-node-exporter", "dbus"]
    assert all("node-exporter" in dest for dest in plan["files"]), plan["files"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("name", list(TEMPLATES))
def test_the_sandbox_scores_at_most_2_5(rendered, tmp_path, name):
    """`systemd-analyze security` of Debian's unit with the role's drop-in (0 safest, 10 none)."""
    unit = tmp_path / f"prometheus-{name}-exporter.service"
    unit.write_text(DEBIAN_UNITS[name] + "\n" + (rendered / f"{name}.sandbox.conf").read_text())
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout[-2000:] + run.stderr[-2000:]
    assert float(match[1]) <= 2.5, run.stdout
    assert "Unknown key" not in run.stderr and "Failed to parse" not in run.stderr, run.stderr
