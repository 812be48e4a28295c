"""A list input as the derived values that join it may use, whatever the inventory gave.

Roles join list inputs into derived values (the app's trusted proxies with
the fronts, an allow-list with its operator's extension) that their input
rules also read. A value that is not a list is refused by the input's own
rule, naming the variable; until that rule has run, the derived value must
still render, so it reads such a value as an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def as_list(value: Any) -> list[Any]:
    """``value`` as a list if it is one (any sequence but a string), else an empty list."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, Mapping)):
        return list(value)
    return []


class FilterModule:
    """ahsp.stack.as_list."""

    def filters(self) -> dict[str, Any]:
        return {"as_list": as_list}
