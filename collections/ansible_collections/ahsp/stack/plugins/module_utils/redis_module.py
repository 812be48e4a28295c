"""What every ahsp.stack module that talks to Redis shares: its connection options and login.

The options match the ``ahsp.stack.redis_connection`` documentation fragment.
The password reaches the module as an argument (stdin with pipelining) and
then travels only on the socket.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.ahsp.stack.plugins.module_utils.resp import Client, connect

CONNECTION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "host": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "default": 6379},
    "unix_socket": {"type": "str", "default": ""},
    "login_user": {"type": "str"},
    "login_password": {"type": "str", "no_log": True},
}


def connect_with(params: dict[str, Any], timeout: float = 5.0, wait: float = 0) -> Client:
    """A connected, authenticated client for the module's connection options.

    ``wait``: seconds to keep trying while the server does not accept connections yet.
    """
    return connect(
        params["host"],
        params["port"],
        params["login_user"] or None,
        params["login_password"] or None,
        timeout,
        wait,
        params["unix_socket"],
    )
