"""config/env.py: the declared contract, typed values, env files and their precedence.

These run in-process on ``load_environment`` (no Django settings involved);
test_settings.py proves the same path end to end in fresh subprocesses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from config import settings as live_settings
from config.env import (
    CONTRACT_PATH,
    ENV_FILES_VARIABLE,
    Variable,
    convert,
    load_contract,
    load_environment,
)
from django.core.exceptions import ImproperlyConfigured

# Values a renderer must carry through unchanged (the role refuses only
# newline, carriage return and NUL).
NASTY_VALUES = [
    "$HOME",
    "${X}",
    "$(id)",
    "it's",
    'say "hi"',
    "back\\slash",
    "literal\\n",
    "\\",
    '"',
    '\\\\"',
    "trailing\\",
    "#",
    "a # not a comment",
    "  padded  ",
    "key=value=x",
    "ünïcødé ✓ 日本 🚧",
    "tab\there",
    "",
    "mix '\"\\$#= `x` ;&|",
]


def render_line(name: str, value: str) -> str:
    """The env file format the Ansible role writes (app/README.md, "Env file format")."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def write_env(path: Path, values: dict[str, str], header: str = "# managed file\n") -> Path:
    path.write_text(header + "".join(render_line(k, v) + "\n" for k, v in values.items()))
    return path


def env_from(tmp_path: Path, *files: Path, **environ: str) -> Any:
    listed = ":".join(str(f) for f in files)
    return load_environment(tmp_path, environ={ENV_FILES_VARIABLE: listed, **environ})


@pytest.mark.parametrize("value", NASTY_VALUES, ids=range(len(NASTY_VALUES)))
def test_rendered_values_come_back_exactly(tmp_path: Path, value: str) -> None:
    path = write_env(tmp_path / "secrets.env", {"DB_PASSWORD": value, "DB_USER": value + "x"})
    env = env_from(tmp_path, path)
    assert env["DB_PASSWORD"] == value
    assert env["DB_USER"] == value + "x"


def test_rendered_booleans_and_lists(tmp_path: Path) -> None:
    path = write_env(
        tmp_path / "app.env",
        {"DEBUG": "true", "SECURE_SSL_REDIRECT": "false", "ALLOWED_HOSTS": "a.example,b.example"},
    )
    env = env_from(tmp_path, path)
    assert env["DEBUG"] is True
    assert env["SECURE_SSL_REDIRECT"] is False
    assert env["ALLOWED_HOSTS"] == ["a.example", "b.example"]


def test_process_environment_beats_files_and_later_files_beat_earlier(tmp_path: Path) -> None:
    first = write_env(tmp_path / "1.env", {"LOG_LEVEL": "ERROR", "TIME_ZONE": "Asia/Jakarta"})
    second = write_env(tmp_path / "2.env", {"TIME_ZONE": "Europe/Berlin", "DB_NAME": "two"})
    env = env_from(tmp_path, first, second, DB_NAME="from-process")
    assert env["LOG_LEVEL"] == "ERROR"
    assert env["TIME_ZONE"] == "Europe/Berlin"
    assert env["DB_NAME"] == "from-process"


def test_missing_listed_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ImproperlyConfigured, match=re.escape(str(missing))):
        env_from(tmp_path, missing)


def test_unreadable_listed_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(str(tmp_path))):
        env_from(tmp_path, tmp_path)  # a directory cannot be read as a file


def test_malformed_line_is_an_error_not_a_silently_missing_setting(tmp_path: Path) -> None:
    path = tmp_path / "bad.env"
    path.write_text('DB_NAME="unterminated\nLOG_LEVEL="ERROR"\n')
    with pytest.raises(ImproperlyConfigured, match=r"bad\.env"):
        env_from(tmp_path, path)


def test_line_without_equals_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.env"
    path.write_text("DB_NAME\n")
    with pytest.raises(ImproperlyConfigured, match="no '=' after DB_NAME"):
        env_from(tmp_path, path)


def test_env_files_must_be_absolute(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=ENV_FILES_VARIABLE):
        load_environment(tmp_path, environ={ENV_FILES_VARIABLE: "relative.env"})


def test_unset_reads_the_local_dot_env_and_empty_reads_nothing(tmp_path: Path) -> None:
    write_env(tmp_path / ".env", {"DB_NAME": "local"})
    assert load_environment(tmp_path, environ={})["DB_NAME"] == "local"
    assert load_environment(tmp_path, environ={ENV_FILES_VARIABLE: ""})["DB_NAME"] == "ahsp"
    assert load_environment(tmp_path / "elsewhere", environ={})["DB_NAME"] == "ahsp"


def test_unknown_names_in_files_are_reported_not_used(tmp_path: Path) -> None:
    path = write_env(
        tmp_path / "app.env",
        {"RATELIMIT_REQUEST": "99", "DB_NAME": "x", ENV_FILES_VARIABLE: "/etc/other.env"},
    )
    env = env_from(tmp_path, path)
    assert env.unknown_in_files == [ENV_FILES_VARIABLE, "RATELIMIT_REQUEST"]
    assert env["RATELIMIT_REQUESTS"] == 10


def test_process_only_names_are_read_from_the_process_environment_alone(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR must reach gunicorn's master and prometheus_client, which read
    the process environment: from a file it would reach the app alone, so it is not read there.
    """
    path = write_env(tmp_path / "app.env", {"PROMETHEUS_MULTIPROC_DIR": "/run/file"})
    from_file = env_from(tmp_path, path)
    assert from_file["PROMETHEUS_MULTIPROC_DIR"] is None
    assert from_file.unknown_in_files == ["PROMETHEUS_MULTIPROC_DIR"]
    from_process = env_from(tmp_path, path, PROMETHEUS_MULTIPROC_DIR="/run/process")
    assert from_process["PROMETHEUS_MULTIPROC_DIR"] == "/run/process"


def test_every_bad_value_is_named_and_secrets_are_not_shown(tmp_path: Path) -> None:
    path = write_env(tmp_path / "app.env", {"DEBUG": "maybe", "DB_PORT": "5432x"})
    with pytest.raises(ImproperlyConfigured) as info:
        env_from(tmp_path, path, REDIS_CONNECT_TIMEOUT="fast", SECRET_KEY="")
    message = str(info.value)
    assert "DEBUG='maybe'" in message
    assert "DB_PORT='5432x'" in message
    assert "REDIS_CONNECT_TIMEOUT='fast'" in message
    assert "SECRET_KEY" not in message  # empty is a valid str (and would be hidden anyway)


def test_secret_values_are_hidden_in_errors(tmp_path: Path) -> None:
    contract = {"TOKEN": Variable("TOKEN", "int", True, False, "doc", 1)}
    with pytest.raises(ImproperlyConfigured, match="TOKEN=<secret>") as info:
        load_environment(
            tmp_path, environ={"TOKEN": "hunter2", ENV_FILES_VARIABLE: ""}, contract=contract
        )
    assert "hunter2" not in str(info.value)


def _var(kind: str) -> Variable:
    return Variable(name="X", type=kind, secret=False, required=False, doc="d")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(w, True) for w in ("true", "TRUE", "1", "yes", "On")]
    + [(w, False) for w in ("false", "False", "0", "no", "OFF")],
)
def test_bool_words(raw: str, expected: bool) -> None:
    assert convert(_var("bool"), raw, Path("/")) is expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("bool", "y"), ("bool", ""), ("bool", "2"),
        ("int", "1.0"), ("int", " 1"), ("int", "1_000"), ("int", "0x10"), ("int", ""),
        ("float", "nan"), ("float", "inf"), ("float", "1,5"), ("float", "1_0"), ("float", ""),
        ("path", ""),
    ],
)  # fmt: skip
def test_strict_parsing_rejects(kind: str, raw: str) -> None:
    with pytest.raises(ValueError):
        convert(_var(kind), raw, Path("/"))


def test_typed_values() -> None:
    assert convert(_var("int"), "-42", Path("/")) == -42
    assert convert(_var("float"), "0.25", Path("/")) == 0.25
    assert convert(_var("float"), "2", Path("/")) == 2.0
    assert convert(_var("float"), "1e-3", Path("/")) == 0.001
    assert convert(_var("list"), " a, ,b ,, ", Path("/")) == ["a", "b"]
    assert convert(_var("list"), "", Path("/")) == []
    assert convert(_var("path"), "/srv/x", Path("/app")) == Path("/srv/x")
    assert convert(_var("path"), "rel", Path("/app")) == Path("/app/rel")
    assert convert(_var("str"), " kept ", Path("/")) == " kept "


def test_the_declaration_is_valid_and_documented() -> None:
    contract = load_contract()
    assert next(iter(contract)) == ENV_FILES_VARIABLE
    assert {v.name for v in contract.values() if v.required} == {"SECRET_KEY"}
    secrets = {v.name for v in contract.values() if v.secret}
    assert secrets == {
        "SECRET_KEY", "DB_PASSWORD", "DB_PASSWORD_FALLBACK", "REDIS_PASSWORD",
        "REDIS_SENTINEL_PASSWORD",
    }  # fmt: skip


@pytest.mark.parametrize(
    "table",
    [
        '[X]\ntype = "int"\nsecret = false\nrequired = false\ndefault = "1"\ndoc = "d"\n',
        '[X]\ntype = "float"\nsecret = false\nrequired = false\ndefault = 1\ndoc = "d"\n',
        '[X]\ntype = "str"\nsecret = false\nrequired = true\ndefault = "a"\ndoc = "d"\n',
        '[X]\ntype = "text"\nsecret = false\nrequired = false\ndoc = "d"\n',
        '[X]\ntype = "str"\nsecret = false\nrequired = false\n',
        '[X]\ntype = "str"\nsecret = false\nrequired = false\ndoc = "d"\nunit = "s"\n',
        '[X]\ntype = "str"\nsecret = false\nrequired = false\ndoc = "d"\nprocess_only = 1\n',
        '[lower]\ntype = "str"\nsecret = false\nrequired = false\ndoc = "d"\n',
    ],
)
def test_a_broken_declaration_is_refused(tmp_path: Path, table: str) -> None:
    path = tmp_path / "environment.toml"
    path.write_text(table)
    with pytest.raises(ImproperlyConfigured):
        load_contract(path)


def test_settings_read_every_declared_variable() -> None:
    """A declared variable nothing reads is a stale doc entry (or a forgotten setting)."""
    assert live_settings.env.unread() == set()


def test_settings_read_the_environment_only_through_the_contract() -> None:
    source = (CONTRACT_PATH.parent / "settings.py").read_text()
    assert "os.environ" not in source
    assert "getenv" not in source


def test_env_example_lists_every_variable_a_file_can_set(tmp_path: Path) -> None:
    """app/.env.example names each declared variable once (set or commented) and parses."""
    example = CONTRACT_PATH.parent.parent / ".env.example"
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example.read_text(), flags=re.MULTILINE)
    declared = [name for name, variable in load_contract().items() if not variable.process_only]
    assert sorted(names) == sorted(declared)
    env = load_environment(tmp_path, environ={ENV_FILES_VARIABLE: str(example)})
    assert env["DEBUG"] is True
    assert env.unknown_in_files == []
