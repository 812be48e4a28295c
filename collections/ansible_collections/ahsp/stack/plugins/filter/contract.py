"""The app's environment contract (app/config/environment.toml) seen from the playbooks.

The app declares every environment variable it reads (type, secret or not,
required or not, default) in one TOML file; its settings read through that
declaration. The app role renders its env files from role variables, so
these filters hold the rendered names and values against the declaration
before anything is written: an unknown name, a secret in the non-secret
file, a value of the wrong type, a missing required variable.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_BOOL = {"true", "false", "1", "0", "yes", "no", "on", "off"}


def from_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (Python's tomllib) into a mapping."""
    try:
        return tomllib.loads(str(text))
    except tomllib.TOMLDecodeError as exc:
        raise AnsibleFilterError(f"from_toml: {exc}") from exc


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_as_text(v) for v in value)
    return "" if value is None else str(value)


def _type_problem(kind: str, value: Any) -> str | None:
    text = _as_text(value).strip()
    if kind == "bool" and text.lower() not in _BOOL:
        return "true or false"
    if kind == "int" and not re.fullmatch(r"[+-]?[0-9]+", text):
        return "an integer"
    if kind == "float":
        try:
            float(text)
        except ValueError:
            return "a number"
    if kind == "path" and text and not text.startswith("/"):
        return "an absolute path"
    return None


def env_contract_problems(
    contract: Mapping[str, Mapping[str, Any]],
    plain: Mapping[str, Any],
    secret: Mapping[str, Any],
    origin: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems of the rendered env files against the app's declaration; [] when they agree.

    ``plain`` and ``secret`` are the name-to-value maps of app.env and
    secrets.env; ``origin`` names the role variable behind each name, for the
    messages (extra names are reported as app_extra_env / app_extra_secret_env).
    """
    origin = dict(origin or {})
    problems: list[str] = []

    def where(name: str, in_secret: bool) -> str:
        return (
            origin.get(name)
            or f"{'app_extra_secret_env' if in_secret else 'app_extra_env'}[{name!r}]"
        )

    for in_secret, values in ((False, plain), (True, secret)):
        for name, value in values.items():
            declared = contract.get(name)
            if declared is None:
                if name in origin:
                    problems.append(
                        f"{origin[name]}: the app does not declare {name} in its environment contract "
                        "(app/config/environment.toml); the role and the app disagree"
                    )
                # Extra names the app does not read are passed through as is (for a library).
                continue
            if bool(declared.get("secret")) and not in_secret:
                problems.append(
                    f"{where(name, in_secret)}: {name} is a secret; give it in app_extra_secret_env "
                    "(rendered to secrets.env without diff or log)"
                )
            kind = str(declared.get("type", "str"))
            if (need := _type_problem(kind, value)) is not None:
                shown = "" if in_secret or declared.get("secret") else f" (got {_as_text(value)!r})"
                problems.append(f"{where(name, in_secret)}: {name} must be {need}{shown}")
    rendered = {**plain, **secret}
    for name, declared in contract.items():
        if declared.get("required") and not _as_text(rendered.get(name, "")).strip():
            problems.append(f"{origin.get(name, name)}: {name} is required by the app and is empty")
    return problems


def showmigrations_names(lines: list[str]) -> list[str]:
    """``app.migration`` for every migration in ``manage.py showmigrations --list`` output."""
    names: list[str] = []
    app = ""
    for line in lines:
        if line and not line[0].isspace():
            app = line.strip()
        elif match := re.match(r"^\s+\[[ X-]\]\s+(\S+)", line):
            names.append(f"{app}.{match[1]}")
    return names


class FilterModule:
    """The app's environment contract, and what Django reports about it."""

    def filters(self) -> dict[str, Any]:
        return {
            "from_toml": from_toml,
            "env_contract_problems": env_contract_problems,
            "showmigrations_names": showmigrations_names,
        }
