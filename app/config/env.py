"""The app's environment contract: every variable declared once, read once, typed.

``environment.toml`` next to this module declares each variable the app reads
(type, default, whether it is secret or required, a one-line doc). This module
loads that declaration, gathers the raw values from the env files named by
``AHSP_ENV_FILES`` and from the process environment, and converts every
declared value up front, so a bad value anywhere stops start-up with one
``ImproperlyConfigured`` that names each offending variable — instead of a
surprise the first time some code path reads it.

Deployed hosts get their settings only through the files: the service sets
``AHSP_ENV_FILES`` and each new gunicorn worker reads the files when it imports
the settings, so edited values take effect on a graceful reload. Files are read
with python-dotenv without interpolation, so ``$`` and ``\\`` in values are
literal apart from the escapes of the double-quoted format (see app/README.md).

Django-free on purpose apart from the exception type, and python-dotenv is
imported only to read files: scripts/env_docs.py, the tests and the deploy
controller (the app role checks every value it renders with ``convert``
below, from the release being deployed) load the contract without Django.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from django.core.exceptions import ImproperlyConfigured
except ImportError:  # the deploy controller checks values with this module, without Django

    class ImproperlyConfigured(Exception):  # type: ignore[no-redef]
        """Stands in for Django's exception where Django is not installed."""


CONTRACT_PATH = Path(__file__).with_name("environment.toml")
ENV_FILES_VARIABLE = "AHSP_ENV_FILES"
DEFAULT_ENV_FILE_NAME = ".env"
TYPES = ("str", "bool", "int", "float", "list", "path")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
# The logger python-dotenv reports unparsable lines on; it skips such lines
# otherwise, and a silently skipped setting is worse than a failed start.
_DOTENV_LOGGER = "dotenv.main"
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Variable:
    """One declared variable. ``default`` is absent for required variables and for
    optional ones whose default the app derives from other values (the doc says how).
    """

    name: str
    type: str
    secret: bool
    required: bool
    doc: str
    default: Any = _NO_DEFAULT
    # May an operator set it through the app role's app_extra_env? Only
    # tuning values are; names that move files or change the session or
    # settings machinery are not.
    operator: bool = False
    # Read from the process environment only, never from an env file: values
    # the process that starts the app (the gunicorn master) must share with it.
    process_only: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


def _check_default(name: str, kind: str, default: Any) -> None:
    """The TOML default must already have the declared type: no string coercion there."""
    expected: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "path": (str,),
        "bool": (bool,),
        "int": (int,),
        "float": (float,),
        "list": (list,),
    }
    ok = isinstance(default, expected[kind])
    if kind == "int" and isinstance(default, bool):
        ok = False
    if kind == "list":
        ok = ok and all(isinstance(item, str) for item in default)
    if kind == "path" and default == "":
        ok = False
    if not ok:
        raise ImproperlyConfigured(f"{CONTRACT_PATH.name}: default of {name} is not a {kind}")


def load_contract(path: Path = CONTRACT_PATH) -> dict[str, Variable]:
    """Parse and validate the declaration; the order of the file is kept (it is the doc order)."""
    with path.open("rb") as fh:
        tables = tomllib.load(fh)
    contract: dict[str, Variable] = {}
    for name, table in tables.items():
        where = f"{path.name}: [{name}]"
        if not _NAME.fullmatch(name) or not isinstance(table, dict):
            raise ImproperlyConfigured(f"{where}: not an upper-case variable table")
        unknown = set(table) - {
            "type", "secret", "required", "default", "doc", "operator", "process_only"
        }  # fmt: skip
        missing = {"type", "secret", "required", "doc"} - set(table)
        if unknown or missing:
            raise ImproperlyConfigured(
                f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
            )
        kind, doc = table["type"], table["doc"]
        if kind not in TYPES:
            raise ImproperlyConfigured(f"{where}: type must be one of {', '.join(TYPES)}")
        flags = (
            table["secret"],
            table["required"],
            table.get("operator", False),
            table.get("process_only", False),
        )
        if not all(isinstance(flag, bool) for flag in flags):
            raise ImproperlyConfigured(
                f"{where}: secret, required, operator and process_only must be booleans"
            )
        if not isinstance(doc, str) or not doc.strip() or "\n" in doc:
            raise ImproperlyConfigured(f"{where}: doc must be one non-empty line")
        if "default" in table:
            if table["required"]:
                raise ImproperlyConfigured(f"{where}: a required variable has no default")
            _check_default(name, kind, table["default"])
        contract[name] = Variable(
            name=name,
            type=kind,
            secret=table["secret"],
            required=table["required"],
            doc=doc,
            default=table.get("default", _NO_DEFAULT),
            operator=table.get("operator", False),
            process_only=table.get("process_only", False),
        )
    return contract


def convert(variable: Variable, raw: str, base_dir: Path) -> Any:
    """Turn one raw string into the declared type, or raise ValueError saying why."""
    kind = variable.type
    if kind == "str":
        return raw
    if kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    if raw == "":
        raise ValueError("is empty (remove it to use the default)")
    if kind == "bool":
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("is not a boolean (true/false, 1/0, yes/no, on/off)")
    if kind == "int":
        if not _INT.fullmatch(raw):
            raise ValueError("is not an integer")
        return int(raw)
    if kind == "float":
        if not _FLOAT.fullmatch(raw) or not math.isfinite(number := float(raw)):
            raise ValueError("is not a decimal number")
        return number
    # path: relative values are relative to the app directory (development
    # defaults such as "staticfiles"); deployed hosts use absolute paths.
    return base_dir / raw


def _default_value(variable: Variable, base_dir: Path) -> Any:
    """Defaults are typed already; paths still need the app directory, lists a fresh copy."""
    if variable.type == "path":
        return base_dir / variable.default
    if variable.type == "list":
        return list(variable.default)
    return variable.default


class _ParseErrors(logging.Handler):
    """Collects python-dotenv's "could not parse" reports while one file is read."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collect_parse_errors() -> Iterator[_ParseErrors]:
    handler = _ParseErrors()
    logger = logging.getLogger(_DOTENV_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def read_env_file(path: Path) -> dict[str, str]:
    """One file's ``NAME=value`` pairs; missing, unreadable or malformed is an error."""
    from dotenv import dotenv_values

    try:
        with path.open(encoding="utf-8") as stream, _collect_parse_errors() as errors:
            values = dotenv_values(stream=stream, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"env file {path} cannot be read: {exc}") from exc
    if errors.messages:
        raise ImproperlyConfigured(f"env file {path}: {'; '.join(errors.messages)}")
    no_value = sorted(name for name, value in values.items() if value is None)
    if no_value:
        raise ImproperlyConfigured(f"env file {path}: no '=' after {', '.join(no_value)}")
    return {name: value for name, value in values.items() if value is not None}


def env_file_paths(environ: Mapping[str, str], base_dir: Path) -> list[Path]:
    """``AHSP_ENV_FILES`` if set (empty: no file), else ``<app>/.env`` if present."""
    if ENV_FILES_VARIABLE not in environ:
        local = base_dir / DEFAULT_ENV_FILE_NAME
        return [local] if local.is_file() else []
    listed = environ[ENV_FILES_VARIABLE]
    if listed == "":
        return []
    paths = [Path(item) for item in listed.split(":")]
    relative = [str(p) for p in paths if not p.is_absolute()]
    if relative:
        raise ImproperlyConfigured(
            f"{ENV_FILES_VARIABLE} must list absolute paths separated by ':'; got {relative}"
        )
    return paths


@dataclass
class Environment:
    """Typed values of every declared variable, converted once at construction."""

    contract: dict[str, Variable]
    values: dict[str, Any]
    files: list[Path]
    unknown_in_files: list[str]
    _read: set[str] = field(default_factory=set)

    def __getitem__(self, name: str) -> Any:
        """Undeclared names raise KeyError: the settings can only read what the contract lists."""
        if name not in self.contract:
            raise KeyError(f"{name} is not declared in {CONTRACT_PATH.name}")
        self._read.add(name)
        return self.values[name]

    def unread(self) -> set[str]:
        """Declared names nothing asked for: a stale declaration, caught by a test.

        AHSP_ENV_FILES is consumed here, while the values are gathered.
        """
        return set(self.contract) - self._read - {ENV_FILES_VARIABLE}


def load_environment(
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    contract: dict[str, Variable] | None = None,
) -> Environment:
    """Gather raw values (process environment over files, later over earlier files), type them."""
    environ = os.environ if environ is None else environ
    contract = load_contract() if contract is None else contract
    files = env_file_paths(environ, base_dir)
    raw: dict[str, str] = {}
    unknown: set[str] = set()
    for path in files:
        from_file = read_env_file(path)
        # A process-only name inside a file does nothing (AHSP_ENV_FILES: the
        # files are chosen by then); it is reported like an undeclared one.
        ignored = {n for n in from_file if n not in contract or contract[n].process_only}
        unknown.update(ignored)
        raw.update({n: value for n, value in from_file.items() if n not in ignored})
    raw.update({name: value for name, value in environ.items() if name in contract})

    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, variable in contract.items():
        if name == ENV_FILES_VARIABLE:
            values[name] = ":".join(str(p) for p in files)
        elif name in raw:
            try:
                values[name] = convert(variable, raw[name], base_dir)
            except ValueError as exc:
                shown = "<secret>" if variable.secret else repr(raw[name])
                problems.append(f"{name}={shown} {exc}")
        elif variable.has_default:
            values[name] = _default_value(variable, base_dir)
        else:
            values[name] = None  # required (enforced by the settings) or derived there
    if problems:
        raise ImproperlyConfigured("Invalid environment: " + "; ".join(problems))
    return Environment(
        contract=contract, values=values, files=files, unknown_in_files=sorted(unknown)
    )
