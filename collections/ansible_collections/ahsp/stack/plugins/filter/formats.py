"""Render a value in the syntax of the file it lands in, with that format's own quoting.

Every role writes inventory values into files other programs parse: redis.conf,
postgresql.conf, systemd units, env files, gunicorn.conf.py. A value that is
pasted in as-is can end its line early or open a quote, and so add directives
nobody asked for (a second ``User=``, ``protected-mode no``). These filters
quote each value the way its reader unquotes it, and refuse what no quoting
can carry (a newline, a carriage return or a NUL byte: every one of these
formats is line based). The roles' input validation refuses those values
earlier with a message naming the variable; the filters are the last line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

_LINE_BREAKERS = ("\n", "\r", "\0")


def _plain(value: Any) -> str:
    """The value as an exact ``str`` (Ansible may hand in str subclasses)."""
    return str.__str__(str(value))


def _one_line(value: str, what: str) -> str:
    if any(ch in value for ch in _LINE_BREAKERS):
        raise AnsibleFilterError(
            f"{what}: a value with a newline, carriage return or NUL cannot be written on one line"
        )
    return value


def _scalar_text(value: Any, true: str, false: str) -> str:
    if isinstance(value, bool):
        return true if value else false
    if value is None:
        return ""
    return _plain(value)


def env_value(value: Any) -> str:
    """``"..."`` for an env file read by systemd (EnvironmentFile=) and python-dotenv alike.

    Inside double quotes both readers turn ``\\\\`` into ``\\`` and ``\\"`` into
    ``"`` and take every other character literally (neither expands ``$``
    when the app reads with interpolation off), so escaping exactly those two
    characters gives both the same value. Booleans are ``true``/``false``,
    lists are comma-joined.
    """
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        text = ",".join(_scalar_text(item, "true", "false") for item in value)
    else:
        text = _scalar_text(value, "true", "false")
    _one_line(text, "env_value")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redis_value(value: Any) -> str:
    """One redis.conf argument: ``"..."`` with ``\\`` and ``"`` escaped (Redis' own sdssplitargs rules).

    Booleans are ``yes``/``no``; a list gives one quoted argument per item.
    """
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return " ".join(redis_value(item) for item in value)
    text = _one_line(_scalar_text(value, "yes", "no"), "redis_value")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pg_value(value: Any) -> str:
    """A postgresql.conf value: numbers bare, booleans on/off, strings in ``'...'``.

    PostgreSQL's configuration lexer reads ``''`` as a quote and processes
    backslash escapes inside quoted strings, so both are escaped.
    """
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return _plain(value)
    text = _one_line(_plain(value), "pg_value")
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def py_literal(value: Any) -> str:
    """A Python literal for gunicorn.conf.py: ``repr`` of plain str/int/bool/None, lists and dicts."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(_plain(value))
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    raise AnsibleFilterError(
        f"py_literal: cannot write a {type(value).__name__} as a Python literal"
    )


def systemd_quote(value: Any, exec_line: bool = False) -> str:
    """One word of a systemd unit setting, double-quoted.

    systemd unquotes ``\\\\`` and ``\\"`` inside double quotes and expands
    ``%`` specifiers everywhere, so ``%`` becomes ``%%``. On Exec*= lines
    (``exec_line=True``) it also expands ``$VAR``, so ``$`` becomes ``$$``.
    """
    text = _one_line(_scalar_text(value, "true", "false"), "systemd_quote")
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if exec_line:
        text = text.replace("$", "$$")
    return '"' + text + '"'


class FilterModule:
    """Format-aware quoting for the files the AHSP roles render."""

    def filters(self) -> dict[str, Any]:
        return {
            "env_value": env_value,
            "redis_value": redis_value,
            "pg_value": pg_value,
            "py_literal": py_literal,
            "systemd_quote": systemd_quote,
        }
