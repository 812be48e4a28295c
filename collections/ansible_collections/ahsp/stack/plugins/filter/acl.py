"""Redis ACL users as the words of `ACL SETUSER` / an ACL file line.

Passwords never appear in clear: each becomes `#<sha256 hex>`, which Redis
accepts as a stored password and which cannot be used to log in. So the ACL
file and a Sentinel's config hold no secret a reader could reuse, and a user
with two passwords (the current one and the previous one, during a rotation)
is two hashes.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(str(password).encode()).hexdigest()


def acl_users(users: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """[name, 'reset', *rules, *#hashes] for each {name, rules, passwords} user."""
    words: list[list[str]] = []
    for user in users:
        try:
            name, rules = str(user["name"]), str(user.get("rules", ""))
        except (KeyError, TypeError) as exc:
            raise AnsibleFilterError(f"acl_users: every user needs a name ({user!r:.60})") from exc
        passwords = [p for p in user.get("passwords", []) if p]
        words.append([name, "reset", *shlex.split(rules), *(_hash(p) for p in passwords)])
    return words


class FilterModule:
    """Redis ACL users."""

    def filters(self) -> dict[str, Any]:
        return {"acl_users": acl_users}
