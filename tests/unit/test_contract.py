"""The app's environment contract against the env files the app role renders."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.ahsp.stack.plugins.filter.contract import (
    env_contract_problems,
    from_toml,
    showmigrations_names,
)

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {
    "DEBUG": {"type": "bool", "secret": False, "required": False},
    "SECRET_KEY": {"type": "str", "secret": True, "required": True},
    "PORT": {"type": "int", "secret": False, "required": False},
}


def test_the_apps_contract_parses():
    contract = from_toml((ROOT / "app" / "config" / "environment.toml").read_text())
    assert contract["SECRET_KEY"]["secret"] is True
    assert all(
        entry["type"] in {"str", "bool", "int", "float", "list", "path"}
        for entry in contract.values()
    )


def test_agreeing_files_have_no_problems():
    assert env_contract_problems(CONTRACT, {"DEBUG": False}, {"SECRET_KEY": "x" * 50}) == []


def test_secret_in_the_plain_file_wrong_type_missing_and_unknown_managed():
    problems = env_contract_problems(
        CONTRACT,
        {"DEBUG": "maybe", "SECRET_KEY": "x", "NEW": "1"},
        {},
        {"DEBUG": "app_debug", "NEW": "app_new"},
    )
    text = "\n".join(problems)
    assert "app_debug: DEBUG must be true or false" in text
    assert "SECRET_KEY is a secret" in text
    assert "app_new: the app does not declare NEW" in text


def test_extra_names_the_app_does_not_read_pass_through():
    assert env_contract_problems(CONTRACT, {"OTHER_LIB": "x"}, {"SECRET_KEY": "k"}) == []


def test_showmigrations_names():
    lines = ["admin", " [X] 0001_initial", "detail_project", " [ ] 0002_x"]
    assert showmigrations_names(lines) == ["admin.0001_initial", "detail_project.0002_x"]
