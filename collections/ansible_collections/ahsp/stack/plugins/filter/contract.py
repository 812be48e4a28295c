"""The app's environment contract (app/config/environment.toml) seen from the playbooks.

The app declares every environment variable it reads (type, secret or not,
required or not, default) in one TOML file; its settings read through that
declaration. The app role renders its env files from role variables, so
these filters hold the rendered names and values against the declaration
before anything is written: an unknown name, a secret in the non-secret
file, a value of the wrong type, a missing required variable.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.formats import env_value

_APP_READERS: dict[tuple[str, float], ModuleType] = {}


def from_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (Python's tomllib) into a mapping."""
    try:
        return tomllib.loads(str(text))
    except tomllib.TOMLDecodeError as exc:
        raise AnsibleFilterError(f"from_toml: {exc}") from exc


def _app_module(source_dir: str, relative: str) -> ModuleType:
    """A module of the app's source tree, loaded on the controller once per file version."""
    path = Path(source_dir) / relative
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError as exc:
        raise AnsibleFilterError(f"{relative}: {exc}") from exc
    if key not in _APP_READERS:
        spec = importlib.util.spec_from_file_location(f"ahsp_app_{len(_APP_READERS)}", path)
        if spec is None or spec.loader is None:
            raise AnsibleFilterError(f"{path} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        _APP_READERS[key] = module
    return _APP_READERS[key]


def app_env_reader(source_dir: str) -> ModuleType:
    """The app's own environment reader (``config/env.py``) of the release being deployed.

    Loaded from the source tree on the controller: the role checks every value
    with the function the app converts it with, so a value the role accepts is
    one the app accepts.
    """
    return _app_module(source_dir, "config/env.py")


def app_redis_library(source_dir: str) -> dict[str, str]:
    """The release's Redis function library (``config/redis_functions.py``): its name and code.

    The deploy loads it on the Redis primary as an administrator; the app's
    own Redis user may only call its functions.
    """
    library = _app_module(source_dir, "config/redis_functions.py").library()
    return {"name": library.name, "code": library.code}


def _as_text(value: Any) -> str | None:
    """The text the app reads for a rendered value (what ``env_value`` writes, unquoted).

    None for a value no env file line can hold (a line break): the role's
    input rules report that one, naming the variable.
    """
    try:
        return json.loads(env_value(value), strict=False)
    except AnsibleFilterError:
        return None


def _operator_names(contract: Mapping[str, Any]) -> str:
    return ", ".join(name for name, var in contract.items() if var.operator) or "none"


def env_contract_problems(
    source_dir: str,
    plain: Mapping[str, Any],
    secret: Mapping[str, Any],
    origin: Mapping[str, str] | None = None,
) -> list[str]:
    """Problems of the rendered env files against the app's declaration; [] when they agree.

    ``plain`` and ``secret`` are the name-to-value maps of app.env and
    secrets.env; ``origin`` names the role variable behind each name the role
    sets itself. Any other name comes from app_extra_env / app_extra_secret_env
    and must be one the contract marks ``operator = true``. Every value is
    converted by the app's own reader of the release in ``source_dir``.
    """
    reader = app_env_reader(source_dir)
    contract = reader.load_contract(Path(source_dir) / "config" / "environment.toml")
    origin = dict(origin or {})
    problems: list[str] = []
    for in_secret, values in ((False, plain), (True, secret)):
        extra_var = "app_extra_secret_env" if in_secret else "app_extra_env"
        for name, value in values.items():
            where = origin.get(name) or f"{extra_var}[{name!r}]"
            declared = contract.get(name)
            if name not in origin and (declared is None or not declared.operator):
                problems.append(
                    f"{where}: {name} is not a name an operator may set (the app's contract marks "
                    f"these operator = true: {_operator_names(contract)})"
                )
                continue
            if declared is None:
                problems.append(
                    f"{where}: the app does not declare {name} in its environment contract "
                    "(app/config/environment.toml); the role and the app disagree"
                )
                continue
            if declared.secret and not in_secret:
                problems.append(f"{where}: {name} is a secret; give it in app_extra_secret_env")
            problems.extend(_value_problems(reader, declared, where, value, in_secret))
    rendered = {**plain, **secret}
    for name, declared in contract.items():
        if declared.required and not (_as_text(rendered.get(name, "")) or "").strip():
            problems.append(f"{origin.get(name, name)}: {name} is required by the app and is empty")
    return problems


def _value_problems(
    reader: ModuleType, declared: Any, where: str, value: Any, in_secret: bool
) -> list[str]:
    """The app's conversion of one rendered value; deployed paths must also be absolute."""
    text = _as_text(value)
    if text is None:
        return [f"{where}: {declared.name} must be one line (no newline, carriage return or NUL)"]
    shown = "<secret>" if in_secret or declared.secret else repr(text)
    try:
        reader.convert(declared, text, Path("/"))
    except ValueError as exc:
        return [f"{where}: {declared.name}={shown} {exc}"]
    if declared.type == "path" and not text.startswith("/"):
        return [f"{where}: {declared.name}={shown} is not an absolute path"]
    return []


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
            "app_redis_library": app_redis_library,
            "showmigrations_names": showmigrations_names,
        }
