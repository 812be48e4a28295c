"""A minimal HTTP client for tests against gunicorn: one request per connection, bounded.

http.client rather than urllib: it can pick the source address (127.0.0.2 acts
as a reverse proxy in the trusted-proxy tests) and never follows redirects.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10.0


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        for header in self.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return {name: morsel.value for name, morsel in jar.items()}


def request(
    base_url: str,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    source: str | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1",
        parts.port,
        timeout=timeout,
        source_address=(source, 0) if source else None,
    )
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, response.headers, data, time.monotonic() - started)
    finally:
        connection.close()
