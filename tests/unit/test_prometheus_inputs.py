"""The prometheus role's input validation, run as the preflight runs it: bad values fail, named.

Each case is a host of one inventory (connection local, so no host is
touched) whose host variables are the case's values, as an inventory gives
them; one ansible-playbook run applies the role's own tasks/validate.yml
(its argument specs and its ahsp.stack.check_inputs rules) to every case at
once. The tier wiring is left out (ANSIBLE_VARS_ENABLED): these tests hold
the role's own rules, whatever the wiring gives it. Every case's host has
the addresses 127.0.0.1, 10.0.0.5 and ::1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible_json import validation_results

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = yaml.safe_load((ROOT / "tests" / "rules" / "sample.yml").read_text(encoding="utf-8"))
PLAYBOOK = """
- name: The prometheus role's validation alone
  hosts: all
  gather_facts: false
  tasks:
    # The addresses the listen addresses are checked against, as the
    # preflight's fact gathering would give them (here without a module run
    # per case).
    - name: Network facts of a host with one private address
      ansible.builtin.set_fact:
        all_ipv4_addresses: ["127.0.0.1", "10.0.0.5"]
        all_ipv6_addresses: ["::1"]
        cacheable: true
    - name: Validate
      ansible.builtin.include_role:
        name: prometheus
        tasks_from: validate
"""
JOB = {"job": "node", "targets": [{"address": "10.0.0.5:9100", "instance": "app-1"}]}

BAD = [
    ({"prometheus_scrape_interval": "15 s"}, "prometheus_scrape_interval"),
    ({"prometheus_evaluation_interval": "1.5m"}, "prometheus_evaluation_interval"),
    ({"prometheus_scrape_interval": "0s"}, "prometheus_scrape_interval"),
    ({"prometheus_retention_time": "15days"}, "prometheus_retention_time"),
    ({"prometheus_retention_time": "30m1h"}, "prometheus_retention_time"),
    ({"prometheus_retention_size": "10 GiB"}, "prometheus_retention_size"),
    ({"prometheus_retention_size": "10GiB"}, "prometheus_retention_size"),
    (
        {"prometheus_alertmanager_webhook_urls": ["ftp://x"]},
        "prometheus_alertmanager_webhook_urls[0]",
    ),
    (
        {"prometheus_alertmanager_webhook_urls": ["http://user:pw@host/"]},
        "prometheus_alertmanager_webhook_urls[0]",
    ),
    (
        {"prometheus_alertmanager_webhook_urls": "https://hooks.example.com/x"},
        "prometheus_alertmanager_webhook_urls",
    ),
    (
        {"prometheus_alertmanager_watchdog_webhook_urls": ["https://x/#f"]},
        "prometheus_alertmanager_watchdog_webhook_urls[0]",
    ),
    ({"prometheus_alert_error_ratio": 1.5}, "prometheus_alert_error_ratio"),
    ({"prometheus_alert_disk_free_ratio": -0.1}, "prometheus_alert_disk_free_ratio"),
    ({"prometheus_alert_redis_memory_ratio": 1}, "prometheus_alert_redis_memory_ratio"),
    ({"prometheus_alert_redis_memory_ratio": "high"}, "prometheus_alert_redis_memory_ratio"),
    ({"prometheus_alert_certificate_days": 0}, "prometheus_alert_certificate_days"),
    ({"prometheus_alert_backup_age_hours": 0}, "prometheus_alert_backup_age_hours"),
    # Not above the check's period (15 min): a quiet database would page.
    ({"prometheus_alert_wal_archive_age_minutes": 15}, "prometheus_alert_wal_archive_age_minutes"),
    ({"prometheus_external_labels": {"bad-name": "x"}}, "prometheus_external_labels['bad-name']"),
    ({"prometheus_external_labels": {"__name__": "x"}}, "prometheus_external_labels['__name__']"),
    ({"prometheus_external_labels": {"env": "a\nb"}}, "prometheus_external_labels['env']"),
    ({"prometheus_external_labels": {"env": "\U0001f600"}}, "prometheus_external_labels['env']"),
    ({"prometheus_external_labels": {"env": ""}}, "prometheus_external_labels['env']"),
    ({"prometheus_listen_address": "0.0.0.0:99999"}, "prometheus_listen_address"),
    (
        {"prometheus_alertmanager_listen_address": "localhost:9093"},
        "prometheus_alertmanager_listen_address",
    ),
    # Not an address of this host: nothing could reach Prometheus there.
    ({"prometheus_listen_address": "192.0.2.99:9090"}, "prometheus_listen_address"),
    (
        {"prometheus_alertmanager_listen_address": "[fd00::5]:9093"},
        "prometheus_alertmanager_listen_address",
    ),
    (
        {"prometheus_alertmanager_listen_address": "127.0.0.1:9090"},
        "prometheus_alertmanager_listen_address",
    ),
    (
        {
            "prometheus_scrape_jobs": [
                {**JOB, "targets": [{"address": "10.0.0.5", "instance": "a"}]}
            ]
        },
        "prometheus_scrape_jobs[0].targets[0].address",
    ),
    (
        {"prometheus_scrape_jobs": [{**JOB, "targets": [{"address": "h:1", "instance": "a\nb"}]}]},
        "prometheus_scrape_jobs[0].targets[0].instance",
    ),
    (
        {"prometheus_scrape_jobs": [{**JOB, "job": "Node Exporter"}]},
        "prometheus_scrape_jobs[0].job",
    ),
    (
        {"prometheus_scrape_jobs": [{**JOB, "scheme": "https"}]},
        "prometheus_scrape_jobs[0]: has a field",
    ),
    ({"prometheus_scrape_jobs": [{**JOB, "targets": []}]}, "prometheus_scrape_jobs[0].targets"),
    (
        {"prometheus_scrape_jobs": [{**JOB, "metrics_path": "metrics"}]},
        "prometheus_scrape_jobs[0].metrics_path",
    ),
    (
        {"prometheus_scrape_jobs": [{"job": "node"}]},
        "prometheus_scrape_jobs[0].targets: is required",
    ),
    ({"prometheus_scrape_jobs": [JOB, JOB]}, "prometheus_scrape_jobs: each job name"),
    (
        {"prometheus_scrape_jobs": [{**JOB, "targets": JOB["targets"] * 2}]},
        "prometheus_scrape_jobs: two targets",
    ),
    (
        {"prometheus_alertmanager_email_to": ["ops@example.com"]},
        "prometheus_alertmanager_email_from",
    ),
    (
        {"prometheus_alertmanager_email_to": ["not an address"]},
        "prometheus_alertmanager_email_to[0]",
    ),
    (
        {"prometheus_alertmanager_smarthost": "mail.example.com"},
        "prometheus_alertmanager_smarthost",
    ),
    (
        {"prometheus_alertmanager_smtp_auth_username": "alertmanager"},
        "prometheus_alertmanager_smtp_auth_password",
    ),
    ({"prometheus_alertmanager_group_wait": "30"}, "prometheus_alertmanager_group_wait"),
    (
        {"prometheus_alertmanager_repeat_interval": "4 hours"},
        "prometheus_alertmanager_repeat_interval",
    ),
    (
        {"prometheus_alertmanager_watchdog_repeat_interval": ""},
        "prometheus_alertmanager_watchdog_repeat_interval",
    ),
]
GOOD = {
    "defaults": {},
    "the sample": SAMPLE,
    "edge values": {
        "prometheus_listen_address": "10.0.0.5:9090",
        "prometheus_alertmanager_listen_address": "[::1]:9093",
        "prometheus_scrape_interval": "1m30s",
        "prometheus_retention_time": "1y2w",
        "prometheus_retention_size": "512MB",
        "prometheus_alert_error_ratio": "0.01",
        "prometheus_alert_certificate_days": "30",
        "prometheus_external_labels": {"env": 'staging "eu" \\ Zürich', "_x": "1"},
        "prometheus_alertmanager_webhook_urls": ["http://[fd00::5]:9095/hook?a=b&c=%20"],
    },
}
SECRET = "has a space 0123456789"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """Each case's result of the validation task, by case name (its `msg` says what failed)."""
    tmp = tmp_path_factory.mktemp("validate")
    cases = {f"bad-{index}": extra for index, (extra, _) in enumerate(BAD)}
    cases.update({f"good-{index}": extra for index, extra in enumerate(GOOD.values())})
    cases["secret"] = {
        "prometheus_alertmanager_smtp_auth_username": "am",
        "prometheus_alertmanager_smtp_auth_password": SECRET,
    }
    results, _ = validation_results(tmp, PLAYBOOK, cases, timeout=300)
    return results


@pytest.mark.parametrize(
    ("index", "name"),
    [(index, name) for index, (_, name) in enumerate(BAD)],
    ids=[json.dumps(extra, ensure_ascii=False) for extra, _ in BAD],
)
def test_a_bad_value_fails_and_names_the_variable(runs, index, name):
    result = runs[f"bad-{index}"]
    assert result.get("failed"), result
    message = result["msg"]
    assert (
        message.startswith("prometheus: ") and "invalid input(s), nothing was changed" in message
    ), message
    assert name in message, message


@pytest.mark.parametrize("index", range(len(GOOD)), ids=list(GOOD))
def test_good_values_pass(runs, index):
    result = runs[f"good-{index}"]
    assert not result.get("failed"), result.get("msg")
    assert result["msg"].endswith("inputs valid"), result


def test_a_refused_smtp_password_is_named_but_never_shown(runs):
    result = runs["secret"]
    assert result.get("failed"), result
    assert "prometheus_alertmanager_smtp_auth_password: must be" in result["msg"], result["msg"]
    assert SECRET not in json.dumps(result)
