"""The app hosts as nginx's upstream block lists them, with the hosts being drained marked `down`.

The nginx role writes this list into its own file (included by nginx.conf's
`upstream` block), and the app tier's rollout writes the same file with the
hosts it is about to switch marked `down` before it reloads the fronts: one
function for both, so that a rollout's last step leaves exactly the file the
role writes and a re-run changes nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_SERVER = re.compile(r"^(\[(?P<v6>[0-9a-f:.]+)\]|(?P<v4>[0-9.]+)):(?P<port>[1-9][0-9]{0,4})$")


def _checked(server: str) -> str:
    """An upstream written as canonical IP:PORT, or [IPv6]:PORT (nothing else reaches nginx.conf)."""
    match = _SERVER.match(str(server))
    try:
        canonical = bool(match) and str(ipaddress.ip_address(match["v6"] or match["v4"])) == (
            match["v6"] or match["v4"]
        )
    except ValueError:
        canonical = False
    if not canonical or not 1 <= int(match["port"]) <= 65535:
        raise AnsibleFilterError(f"nginx_upstream_servers: {server!r} is not a canonical IP:PORT")
    return str(server)


def nginx_upstream_servers(upstreams: Iterable[str], drained: Iterable[str] = ()) -> str:
    """One `server` line per upstream; those in ``drained`` get `down` (no new requests, in-flight ones finish).

    A connection error or timeout marks a server failed for 5 s
    (``max_fails=1 fail_timeout=5s``), so the next requests go to the others
    at once.
    """
    down = {_checked(server) for server in drained}
    lines = [
        f"server {_checked(server)} max_fails=1 fail_timeout=5s{' down' if server in down else ''};"
        for server in upstreams
    ]
    return "\n".join(lines) + "\n"


def app_upstreams(addresses: Mapping[str, str], fronts: Iterable[str], port: int) -> list[str]:
    """Where the fronts reach each app host's gunicorn, IP:PORT, in the order given.

    ``addresses`` maps each app host's name to its private address. An app
    host that is the only front listens on loopback (the wiring binds
    gunicorn there), so it is reached on 127.0.0.1; every other one on its
    private address.
    """
    only_front = list(fronts)
    return [
        _checked(f"{'127.0.0.1' if only_front == [name] else address}:{int(port)}")
        for name, address in addresses.items()
    ]


class FilterModule:
    """The nginx front's generated pieces."""

    def filters(self) -> dict[str, Any]:
        return {"app_upstreams": app_upstreams, "nginx_upstream_servers": nginx_upstream_servers}
