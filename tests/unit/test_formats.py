"""The quoting filters, checked against the real readers of each format."""

from __future__ import annotations

import ast
import io

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.formats import (
    env_value,
    pg_value,
    py_literal,
    redis_value,
    systemd_quote,
)
from dotenv import dotenv_values

NASTY = [
    "plain",
    "$HOME and ${HOME}",
    "single ' quote",
    'double " quote',
    "back\\slash and \\n literal",
    "# not a comment",
    "  spaces around  ",
    "a=b=c",
    "ünïcödé €",
    "`backtick` and %percent%",
    "",
]


@pytest.mark.parametrize("value", NASTY)
def test_env_value_round_trips_through_python_dotenv(value):
    line = f"NAME={env_value(value)}\n"
    assert dotenv_values(stream=io.StringIO(line), interpolate=False)["NAME"] == value


def test_env_value_renders_booleans_and_lists_as_the_app_reads_them():
    assert env_value(True) == '"true"'
    assert env_value(["a", "b"]) == '"a,b"'
    assert env_value(5) == '"5"'


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
@pytest.mark.parametrize("render", [env_value, redis_value, pg_value, systemd_quote])
def test_line_breakers_are_refused_by_every_format(render, bad):
    with pytest.raises(AnsibleFilterError):
        render(bad)


@pytest.mark.parametrize("value", NASTY)
def test_py_literal_is_the_python_value(value):
    assert ast.literal_eval(py_literal(value)) == value


def test_py_literal_structures():
    data = {"a": [1, True, None, "x'y"], "b": 2.5}
    assert ast.literal_eval(py_literal(data)) == data


def test_redis_value_escapes_quotes_and_backslashes():
    assert redis_value('p"a\\s') == '"p\\"a\\\\s"'
    assert redis_value(True) == '"yes"'
    assert redis_value(["127.0.0.1", "-::1"]) == '"127.0.0.1" "-::1"'


def test_pg_value_quotes_strings_only():
    assert pg_value(True) == "on"
    assert pg_value(5) == "5"
    assert pg_value("it's \\") == "'it''s \\\\'"


def test_systemd_quote_escapes_specifiers_and_variables():
    assert systemd_quote("a%b") == '"a%%b"'
    assert systemd_quote("$x", exec_line=True) == '"$$x"'
    assert systemd_quote('q"\\') == '"q\\"\\\\"'
