"""The bench's typed records as JSON data, and back.

Every phase returns dataclasses; the results file holds them as plain JSON
objects whose keys are the field names. `as_dict` writes one; a record may
name properties computed from its fields in a `DERIVED` class attribute
(medians over runs, say), which are written too, for readers of the file,
and skipped when it is read back. `from_dict` reads one back and checks
every key against the record's fields, so a file of another shape fails
loudly instead of producing a half-filled record.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

Record = TypeVar("Record")


def as_dict(record: object) -> dict[str, Any]:
    """The record's fields (nested records included) and its derived figures, as JSON data."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"not a record: {record!r}")
    names = [field.name for field in dataclasses.fields(record)]
    names += getattr(record, "DERIVED", ())
    return {name: _plain(getattr(record, name)) for name in names}


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def from_dict(cls: type[Record], data: dict[str, Any]) -> Record:
    """Rebuild a record of type `cls` from `as_dict`'s output (or the same JSON, read back)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    derived = set(getattr(cls, "DERIVED", ()))
    unknown = set(data) - set(fields) - derived
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    missing = [
        name
        for name, field in fields.items()
        if name not in data
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{cls.__name__}: missing keys {missing}")
    return cls(
        **{
            name: _typed(hints[name], data[name], f"{cls.__name__}.{name}")
            for name in fields
            if name in data
        }
    )


def _typed(hint: Any, value: object, where: str) -> Any:
    """`value` (JSON data) as the type `hint` names; raises ValueError when it does not fit."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return _union(hint, value, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value)  # type: ignore[arg-type]
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(hint)[0]
        items = [_typed(item, x, f"{where}[]") for x in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, got {value!r}")
        item = typing.get_args(hint)[1]
        return {key: _typed(item, x, f"{where}[{key}]") for key, x in value.items()}
    return _scalar(hint, value, where)


def _union(hint: Any, value: object, where: str) -> Any:
    """`X | None` (or another union): the first member the value fits."""
    for member in typing.get_args(hint):
        if member is type(None):
            if value is None:
                return None
            continue
        try:
            return _typed(member, value, where)
        except ValueError:
            continue
    raise ValueError(f"{where}: {value!r} fits none of {hint}")


def _scalar(hint: Any, value: object, where: str) -> Any:
    if hint is Any or hint is object:
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise ValueError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
