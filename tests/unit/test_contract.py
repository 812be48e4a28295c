"""The app's environment contract against the env files the app role renders.

The role checks values with the app's own reader (app/config/env.py, loaded
from the source tree on the controller), so these tests use the real
contract and the real reader: a value is accepted exactly when the app
would accept it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.ahsp.stack.plugins.filter.contract import (
    app_env_reader,
    env_contract_problems,
    from_toml,
    showmigrations_names,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCE = str(ROOT / "app")
KEY = {"SECRET_KEY": "x" * 50}


def problems(plain: dict, secret: dict | None = None, origin: dict | None = None) -> list[str]:
    origin = {"SECRET_KEY": "app_secret_key", **(origin or {})}
    return env_contract_problems(SOURCE, plain, KEY if secret is None else secret, origin)


def test_the_apps_contract_parses():
    contract = from_toml((ROOT / "app" / "config" / "environment.toml").read_text())
    assert contract["SECRET_KEY"]["secret"] is True
    assert all(
        entry["type"] in {"str", "bool", "int", "float", "list", "path"}
        for entry in contract.values()
    )


def test_the_reader_is_the_apps_own():
    reader = app_env_reader(SOURCE)
    assert reader.__file__ == str(ROOT / "app" / "config" / "env.py")
    assert app_env_reader(SOURCE) is reader  # loaded once per file version


def test_agreeing_files_have_no_problems():
    assert problems({"DEBUG": False}, origin={"DEBUG": "app_debug"}) == []
    assert problems({"LOGIN_FAILURE_LIMIT": 7, "TIME_ZONE": "Asia/Jakarta"}) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOGIN_FAILURE_LIMIT", " 5"), ("LOGIN_FAILURE_LIMIT", "5.0"), ("LOGIN_FAILURE_LIMIT", "")],
)
def test_values_the_apps_reader_refuses_are_refused(name, value):
    (problem,) = problems({name: value})
    assert problem.startswith(f"app_extra_env[{name!r}]: {name}={value!r} ")


@pytest.mark.parametrize(
    "name", ["STATIC_ROOT", "DATA_DIR", "SESSION_ENGINE", "OTHER_LIB", "AHSP_ENV_FILES"]
)
def test_only_operator_names_may_be_added(name):
    (problem,) = problems({name: "/srv/ahsp/releases/x/config"})
    assert f"{name} is not a name an operator may set" in problem
    assert "LOGIN_FAILURE_LIMIT" in problem  # the message lists the allowed names


def test_secret_in_the_plain_file_wrong_type_missing_and_unknown_managed():
    found = problems(
        {"DEBUG": "maybe", "SECRET_KEY": "x", "NEW": "1"},
        {},
        {"DEBUG": "app_debug", "NEW": "app_new", "SECRET_KEY": "app_secret_key"},
    )
    text = "\n".join(found)
    assert "app_debug: DEBUG='maybe' is not a boolean" in text
    assert "SECRET_KEY is a secret" in text
    assert "app_new: the app does not declare NEW" in text


def test_secret_values_are_never_shown():
    found = problems({}, {"SECRET_KEY": "", "DB_PASSWORD": "x"}, {"SECRET_KEY": "app_secret_key"})
    assert "app_secret_key: SECRET_KEY is required by the app and is empty" in found
    assert all("'x'" not in problem for problem in found)


def test_showmigrations_names():
    lines = ["admin", " [X] 0001_initial", "detail_project", " [ ] 0002_x"]
    assert showmigrations_names(lines) == ["admin.0001_initial", "detail_project.0002_x"]


def test_a_line_break_is_a_problem_not_an_error():
    (problem,) = problems({"TIME_ZONE": "UTC\nDEBUG=true"})
    assert problem.startswith("app_extra_env['TIME_ZONE']: TIME_ZONE must be one line")
