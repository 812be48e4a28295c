"""The prometheus role's contract: what its input rules accept, Prometheus and Alertmanager read.

Property-based (Hypothesis): values are generated, kept when the role's own
rule (roles/prometheus/vars/main.yml, checked by the same ``check_value`` the
preflight runs) accepts them, written as the role's templates write them
(``to_json``), and handed to Debian's own ``promtool check config`` and
``amtool check-config``. Then the role's templates themselves are rendered
with awkward accepted values: the files pass both tools, read back exactly
as given, and the units' sandboxes score at most 2.5 with Debian's units
(``systemd-analyze security --offline``).

promtool, amtool and Debian's units come from build/tools/, which
scripts/promtool.sh fills on its first run (this module runs it when they
are missing).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "build" / "tools"
RULES = yaml.safe_load((ROOT / "roles" / "prometheus" / "vars" / "main.yml").read_text())[
    "__prometheus_input_rules"
]
TARGET_RULES = RULES["prometheus_scrape_jobs"]["items"]["fields"]["targets"]["items"]["fields"]
FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SCORE_MAX = 2.5


def accepted(name: str, value: object, rule: dict) -> bool:
    return check_value(name, value, rule, {}) == []


def to_json(value: object) -> str:
    """What the templates' to_json filter writes (json.dumps, non-ASCII as \\u escapes)."""
    return json.dumps(value)


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    if not (TOOLS / "promtool").exists() or not (TOOLS / "units" / "prometheus.service").exists():
        run = subprocess.run(
            ["bash", str(ROOT / "scripts" / "promtool.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return {"promtool": TOOLS / "promtool", "amtool": TOOLS / "amtool", "units": TOOLS / "units"}


def _prove(tool: Path, args: list[str], text: str, directory: Path) -> subprocess.CompletedProcess:
    (directory / "file.yml").write_text(text, encoding="utf-8")
    return subprocess.run(
        [str(tool), *args, str(directory / "file.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- The formats, against the tools' own parsers ------------------------------------------------

UNITS = ("y", "w", "d", "h", "m", "s", "ms")
DURATIONS = st.lists(
    st.one_of(st.none(), st.integers(0, 999), st.integers(0, 10**6)), min_size=7, max_size=7
).map(
    lambda numbers: "".join(f"{n}{u}" for n, u in zip(numbers, UNITS, strict=True) if n is not None)
)
SIZES = st.builds(
    lambda number, unit: f"{number}{unit}",
    st.one_of(st.integers(0, 2048), st.integers(0, 2**40)),
    st.sampled_from(["B", "KB", "MB", "GB", "TB", "PB", "EB"]),
)


@FEW
@given(
    durations=st.lists(DURATIONS, min_size=1, max_size=20),
    sizes=st.lists(SIZES, min_size=1, max_size=20),
)
def test_durations_and_sizes_the_rules_accept_prometheus_reads(tools, tmp_path, durations, sizes):
    """Each as a scrape interval and timeout, and as a body size limit (read by the
    same parsers as the retention flags: model.ParseDuration, units.ParseBase2Bytes)."""
    durations = [d for d in durations if accepted("d", d, RULES["prometheus_scrape_interval"])]
    sizes = [s for s in sizes if accepted("s", s, RULES["prometheus_retention_size"])]
    assume(durations or sizes)
    jobs = [
        {"job_name": f"d{i}", "scrape_interval": d, "scrape_timeout": d, "static_configs": []}
        for i, d in enumerate(durations)
    ] + [
        {"job_name": f"s{i}", "body_size_limit": s, "static_configs": []}
        for i, s in enumerate(sizes)
    ]
    config = "scrape_configs:\n" + "".join(f"  - {to_json(job)}\n" for job in jobs)
    run = _prove(tools["promtool"], ["check", "config"], config, tmp_path)
    assert run.returncode == 0, f"{durations} {sizes}: {run.stdout}{run.stderr}"


LABEL_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\"'\\$`#%=;:{}[]()*?!&|<>~ \u00a0\u2028\u2029\u0085üé€")),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    min_size=1,
    max_size=30,
)
LABEL_NAME = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,20}\Z")


@FEW
@given(labels=st.dictionaries(LABEL_NAME, LABEL_TEXT, min_size=1, max_size=8), instance=LABEL_TEXT)
def test_labels_the_rules_accept_prometheus_reads_as_given(tools, tmp_path, labels, instance):
    rule = RULES["prometheus_external_labels"]
    labels = {k: v for k, v in labels.items() if accepted("l", {k: v}, rule)}
    assume(labels and accepted("i", instance, TARGET_RULES["instance"]))
    config = (
        f"global:\n  external_labels: {to_json(labels)}\n"
        "scrape_configs:\n"
        f'  - job_name: "j"\n    static_configs:\n      - targets: ["h:1"]\n'
        f"        labels: {to_json({'instance': instance})}\n"
    )
    run = _prove(tools["promtool"], ["check", "config"], config, tmp_path)
    assert run.returncode == 0, f"{labels!r} {instance!r}: {run.stdout}{run.stderr}"
    read = yaml.safe_load(config)
    assert read["global"]["external_labels"] == labels
    assert read["scrape_configs"][0]["static_configs"][0]["labels"]["instance"] == instance


URL_HOSTS = st.sampled_from(["hooks.example.com", "10.0.0.5", "[fd00::5]", "localhost", "a-b.c"])
URL_PATH = st.text(alphabet=st.sampled_from(list("abcXYZ019._~%+=&,;:/-?")), max_size=30)


@FEW
@given(
    urls=st.lists(
        st.builds(
            lambda scheme, host, port, path: f"{scheme}://{host}{port}/{path}",
            st.sampled_from(["http", "https"]),
            URL_HOSTS,
            st.sampled_from(["", ":1", ":8080", ":65535"]),
            URL_PATH,
        ),
        min_size=1,
        max_size=10,
    ),
    addresses=st.lists(st.emails(), min_size=1, max_size=5),
)
def test_receivers_the_rules_accept_alertmanager_reads(tools, tmp_path, urls, addresses):
    urls = [
        u for u in urls if accepted("u", u, RULES["prometheus_alertmanager_webhook_urls"]["items"])
    ]
    rule = RULES["prometheus_alertmanager_email_to"]["items"]
    addresses = [a for a in addresses if accepted("e", a, rule)]
    assume(urls and addresses)
    config = (
        'global: {"smtp_smarthost": "mail.example.com:587", "smtp_from": '
        + to_json(addresses[0])
        + "}\n"
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r\n"
        "    webhook_configs: " + to_json([{"url": u} for u in urls]) + "\n"
        "    email_configs: " + to_json([{"to": a} for a in addresses]) + "\n"
    )
    run = _prove(tools["amtool"], ["check-config"], config, tmp_path)
    assert run.returncode == 0, f"{urls} {addresses}: {run.stdout}{run.stderr}"


# --- The role's own templates --------------------------------------------------------------------

AWKWARD = {
    "prometheus_listen_address": "[::1]:9090",
    "prometheus_alertmanager_listen_address": "0.0.0.0:9093",
    "prometheus_scrape_interval": "1m30s",
    "prometheus_evaluation_interval": "250ms",
    "prometheus_retention_time": "1y2w3d",
    "prometheus_retention_size": "7EB",
    "prometheus_external_labels": {
        "environment": 'staging "eu" \\ $HOME {x} #1',
        "_city": "Zürich\u2028€\u0085",
    },
    "prometheus_scrape_jobs": [
        {
            "job": "node",
            "targets": [
                {"address": "[fd00::31]:9100", "instance": "db 1 \"quoted\" 'x'"},
                {"address": "host-a.example.com:9100", "instance": "Zürich-1"},
            ],
        },
        {
            "job": "app",
            "metrics_path": "/a_b/c.d~e-f",
            "targets": [{"address": "10.0.0.11:8000", "instance": "app-1"}],
        },
    ],
    "prometheus_alert_error_ratio": 0.001,
    "prometheus_alert_disk_free_ratio": 0.5,
    "prometheus_alert_redis_memory_ratio": 0.99,
    "prometheus_alert_certificate_days": 365,
    "prometheus_alertmanager_webhook_urls": [
        "http://[fd00::5]:9095/hook?a=b&c=%20d",
        "https://x.example.com",
    ],
    "prometheus_alertmanager_watchdog_webhook_urls": [],
    "prometheus_alertmanager_email_to": ["ops+alerts_1@example.co.uk"],
    "prometheus_alertmanager_email_from": "am@example.com",
    "prometheus_alertmanager_smarthost": "[fd00::25]:25",
    "prometheus_alertmanager_smtp_require_tls": False,
    "prometheus_alertmanager_smtp_auth_username": 'user "name" ü',
    "prometheus_alertmanager_smtp_auth_password": "pw",
    "prometheus_alertmanager_group_wait": "1s",
    "prometheus_alertmanager_group_interval": "2s",
    "prometheus_alertmanager_repeat_interval": "3s",
    "prometheus_alertmanager_watchdog_repeat_interval": "4s",
}
# Only the role's defaults: no jobs, no receivers.
DEFAULTS_ONLY = {
    "prometheus_scrape_jobs": [],
    "prometheus_external_labels": {},
    "prometheus_alertmanager_webhook_urls": [],
    "prometheus_alertmanager_watchdog_webhook_urls": [],
    "prometheus_alertmanager_email_to": [],
    "prometheus_alertmanager_smtp_auth_username": "",
    "prometheus_alertmanager_smtp_auth_password": "",
    "prometheus_retention_size": "",
}


def _render(directory: Path, values: dict) -> None:
    """The role's templates rendered as the role renders them (tests/rules/render.yml)."""
    directory.mkdir()
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run(
        [
            "ansible-playbook",
            str(ROOT / "tests" / "rules" / "render.yml"),
            "-e",
            json.dumps({**values, "render_dir": str(directory)}),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    (directory / "alertmanager-smtp-password").write_text("x")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rendered")
    cases = {"awkward": AWKWARD, "defaults": DEFAULTS_ONLY}
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: _render(base / name, cases[name]), cases))
    return {name: base / name for name in cases}


def test_the_inputs_of_the_awkward_case_are_accepted():
    for name, value in AWKWARD.items():
        if name in RULES:
            assert accepted(name, value, RULES[name]), (
                name,
                check_value(name, value, RULES[name], {}),
            )


@pytest.mark.parametrize("case", ["awkward", "defaults"])
def test_the_rendered_files_pass_promtool_and_amtool(tools, rendered, case):
    directory = rendered[case]
    for argv in (
        [tools["promtool"], "check", "rules", directory / "ahsp.rules.yml"],
        [tools["promtool"], "check", "config", directory / "prometheus.yml"],
        [tools["amtool"], "check-config", directory / "alertmanager.yml"],
    ):
        run = subprocess.run(list(map(str, argv)), capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"{argv}: {run.stdout}{run.stderr}"


def test_prometheus_yml_holds_exactly_the_values_given(rendered):
    config = yaml.safe_load((rendered["awkward"] / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == AWKWARD["prometheus_scrape_interval"]
    assert config["global"]["evaluation_interval"] == AWKWARD["prometheus_evaluation_interval"]
    assert config["global"]["external_labels"] == AWKWARD["prometheus_external_labels"]
    # A wildcard listen address is reached on loopback.
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9093"
    ]
    got = [
        (job["job_name"], job["metrics_path"], target, group["labels"]["instance"])
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    ]
    expected = [
        (job["job"], job.get("metrics_path", "/metrics"), target["address"], target["instance"])
        for job in AWKWARD["prometheus_scrape_jobs"]
        for target in job["targets"]
    ]
    assert got == expected


def test_alertmanager_yml_holds_exactly_the_values_given(rendered):
    config = yaml.safe_load((rendered["awkward"] / "alertmanager.yml").read_text(encoding="utf-8"))
    assert config["global"]["smtp_smarthost"] == AWKWARD["prometheus_alertmanager_smarthost"]
    assert (
        config["global"]["smtp_auth_username"]
        == AWKWARD["prometheus_alertmanager_smtp_auth_username"]
    )
    assert config["global"]["smtp_require_tls"] is False
    assert "smtp_auth_password" not in config["global"]
    assert AWKWARD["prometheus_alertmanager_smtp_auth_password"] not in json.dumps(config)
    route = config["route"]
    assert [route["group_wait"], route["group_interval"], route["repeat_interval"]] == [
        "1s",
        "2s",
        "3s",
    ]
    assert route["routes"][0]["repeat_interval"] == "4s"
    (main,) = (r for r in config["receivers"] if r["name"] == route["receiver"])
    assert [w["url"] for w in main["webhook_configs"]] == AWKWARD[
        "prometheus_alertmanager_webhook_urls"
    ]
    assert [e["to"] for e in main["email_configs"]] == AWKWARD["prometheus_alertmanager_email_to"]


def test_the_defaults_render_no_jobs_and_no_receivers(rendered):
    config = yaml.safe_load((rendered["defaults"] / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["scrape_configs"] == []
    assert "external_labels" not in config["global"]
    alertmanager = yaml.safe_load(
        (rendered["defaults"] / "alertmanager.yml").read_text(encoding="utf-8")
    )
    assert all(set(r) == {"name"} for r in alertmanager["receivers"])
    assert "smtp_smarthost" not in alertmanager["global"]


def _args(path: Path) -> list[str]:
    """ARGS of a /etc/default file as ExecStart=... $ARGS passes them: split on white space."""
    (line,) = [line for line in path.read_text().splitlines() if line.startswith("ARGS=")]
    (value,) = shlex.split(line.removeprefix("ARGS="))
    return value.split()


def test_the_units_arguments_carry_the_values_given(rendered):
    assert _args(rendered["awkward"] / "prometheus.default") == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--web.listen-address=[::1]:9090",
        "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
        "--storage.tsdb.retention.time=1y2w3d",
        "--storage.tsdb.retention.size=7EB",
    ]
    assert "--storage.tsdb.retention.size=" not in " ".join(
        _args(rendered["defaults"] / "prometheus.default")
    )
    assert _args(rendered["awkward"] / "alertmanager.default") == [
        "--config.file=/etc/prometheus/alertmanager.yml",
        "--storage.path=/var/lib/prometheus/alertmanager/",
        "--web.listen-address=0.0.0.0:9093",
        "--cluster.listen-address=",
    ]


def test_the_thresholds_land_in_the_rules(rendered):
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load((rendered["awkward"] / "ahsp.rules.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert re.search(r"> 0\.001$", rules["ErrorRatioHigh"]["expr"].strip())
    assert "< 0.5\n" in rules["DiskSpaceLow"]["expr"]
    assert "> 0.99\n" in rules["RedisMemoryNearMax"]["expr"]
    assert rules["CertificateExpiring"]["expr"].strip().endswith("< 365")


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
@pytest.mark.parametrize(
    ("unit", "dropin"),
    [
        ("prometheus", "prometheus.override.conf"),
        ("prometheus-alertmanager", "alertmanager.override.conf"),
    ],
)
def test_each_sandbox_scores_at_most_2_5(tools, rendered, tmp_path, unit, dropin):
    """Debian's unit with the role's drop-in, scored offline as `systemd-analyze security` does."""
    (tmp_path / "lib" / "systemd" / "system").mkdir(parents=True)
    shutil.copy(tools["units"] / f"{unit}.service", tmp_path / "lib" / "systemd" / "system")
    (tmp_path / "etc" / "systemd" / "system" / f"{unit}.service.d").mkdir(parents=True)
    shutil.copy(
        rendered["defaults"] / dropin,
        tmp_path / "etc" / "systemd" / "system" / f"{unit}.service.d" / "ahsp.conf",
    )
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={tmp_path}", f"{unit}.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    assert float(match[1]) <= SCORE_MAX, run.stdout
