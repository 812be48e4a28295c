"""The alert rules' bookkeeping: each alert tested both ways, with its runbook, in the README.

The rules are rendered from the role's template with its defaults (plain
Jinja, as Ansible renders it: trim_blocks, the `comment` filter); promtool
itself runs them in scripts/promtool.sh.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "prometheus"
TESTS = ROOT / "tests" / "rules"
# Alerts that fire whatever the series: no test can keep them silent.
ALWAYS_FIRING = {"Watchdog"}
SEVERITIES = {"critical", "warning", "none"}


def _rules() -> dict[str, dict]:
    # A YAML file, not HTML: nothing is escaped (as in Ansible).
    environment = jinja2.Environment(
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(default_for_string=False),
    )
    environment.filters["comment"] = lambda text: f"# {text}"
    template = environment.from_string((ROLE / "templates" / "ahsp.rules.yml.j2").read_text())
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    rendered = yaml.safe_load(template.render(ansible_managed="managed", **defaults))
    return {rule["alert"]: rule for group in rendered["groups"] for rule in group["rules"]}


RULES = _rules()


def _cases() -> list[dict]:
    cases = []
    for path in sorted(TESTS.glob("*.test.yml")):
        for group in yaml.safe_load(path.read_text())["tests"]:
            cases.extend(group.get("alert_rule_test", []))
    return cases


CASES = _cases()


def test_there_are_rules():
    assert len(RULES) >= 20, sorted(RULES)


@pytest.mark.parametrize("alert", sorted(RULES))
def test_every_alert_is_shown_firing(alert):
    assert any(case["alertname"] == alert and case["exp_alerts"] for case in CASES), (
        f"no test in tests/rules/ expects {alert} to fire"
    )


@pytest.mark.parametrize("alert", sorted(set(RULES) - ALWAYS_FIRING))
def test_every_alert_is_shown_silent_when_it_should_be(alert):
    assert any(case["alertname"] == alert and not case["exp_alerts"] for case in CASES), (
        f"no test in tests/rules/ expects {alert} to stay silent"
    )


def test_the_tests_name_only_alerts_that_exist():
    assert {case["alertname"] for case in CASES} <= set(RULES)


@pytest.mark.parametrize("alert", sorted(RULES))
def test_every_alert_has_a_severity_and_a_runbook(alert):
    rule = RULES[alert]
    assert rule["labels"]["severity"] in SEVERITIES
    assert set(rule["annotations"]) == {"summary", "description", "runbook"}
    assert all(len(text.strip()) > 20 for text in rule["annotations"].values())


def test_the_readme_runbook_lists_every_alert_with_its_severity():
    readme = (ROLE / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Za-z]+)` \| ([a-z]+) \|", readme, re.MULTILINE)
    assert {name for name, _ in rows} == set(RULES)
    for name, severity in rows:
        assert RULES[name]["labels"]["severity"] == severity, name
