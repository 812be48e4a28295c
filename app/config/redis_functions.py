"""The app's Redis function library: built from the Lua files in ``config/redis/``.

The app never sends code to Redis: an administrator loads this library once
(``FUNCTION LOAD``, the deploy does it on the primary before a release goes
live) and the app's own Redis user may only call it (``FCALL``). Its ACL has
no ``EVAL``, ``EVALSHA`` or ``SCRIPT``, so that user cannot run a script of its
own (``while true do end`` would freeze Redis for every client).

The library's name carries a digest of its sources (``ahsp_<12 hex>``), and
every function name starts with it: when a release changes a function, its
library is a new one beside the old, so an old and a new release run side by
side during a rolling deploy, each calling its own version.

Standard library only: the deploy controller loads this module from the
release's source tree (the ``ahsp.stack.app_redis_library`` filter) without
the app's dependencies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SOURCE_DIR = Path(__file__).with_name("redis")
PREFIX = "ahsp_"
# File stem -> whether the function only reads (FCALL_RO may call it).
FUNCTIONS = {"sliding_log": False, "login_attempt": False, "login_succeeded": False}


@dataclass(frozen=True)
class Library:
    """A library as Redis loads it, and the full names of its functions."""

    name: str
    code: str
    functions: dict[str, str]

    def function(self, stem: str) -> str:
        """The name to ``FCALL`` for the function built from ``config/redis/<stem>.lua``."""
        return self.functions[stem]


def _register(full_name: str, body: str, read_only: bool) -> str:
    """One ``redis.register_function`` call; the body keeps script-style KEYS and ARGV."""
    flags = "{'no-writes'}" if read_only else "{}"
    return (
        f"redis.register_function{{function_name='{full_name}', flags={flags},\n"
        f"  callback=function(KEYS, ARGV)\n{body.rstrip()}\nend}}\n"
    )


@cache
def library() -> Library:
    """The library of this release, named by the digest of its sources."""
    sources = {stem: (SOURCE_DIR / f"{stem}.lua").read_text(encoding="utf-8") for stem in FUNCTIONS}
    digest = hashlib.sha256()
    for stem, source in sources.items():
        digest.update(f"{stem}\0{FUNCTIONS[stem]}\0{source}\0".encode())
    name = PREFIX + digest.hexdigest()[:12]
    functions = {stem: f"{name}_{stem}" for stem in sources}
    code = f"#!lua name={name}\n" + "".join(
        _register(functions[stem], source, FUNCTIONS[stem]) for stem, source in sources.items()
    )
    return Library(name=name, code=code, functions=functions)
