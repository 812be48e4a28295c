"""A minimal Redis client (RESP2 over TCP) for modules that run on Redis hosts.

Hosts get no Python Redis library: Debian's ``redis-server`` package is all
they have. The modules need a handful of commands (AUTH, CONFIG GET/SET, ACL,
INFO, SENTINEL, ROLE), so a small blocking client with a timeout is enough and
keeps the password out of argv and the environment: it travels inside the
module's arguments (stdin with pipelining) and then only on the socket.
"""

from __future__ import annotations

import socket
import time


class RedisError(Exception):
    """An error reply (``-ERR ...``, ``-NOPERM ...``) or a protocol failure."""


class RedisConnectionError(RedisError):
    """The server could not be reached or closed the connection."""


class Client:
    """One connection: TCP to ``host:port``, or the Unix socket ``unix_socket`` when given."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, unix_socket: str = "") -> None:
        self.host, self.port, self.timeout, self.unix_socket = host, port, timeout, unix_socket
        self._sock: socket.socket | None = None
        self._buffer = b""

    @property
    def address(self) -> str:
        return self.unix_socket or f"{self.host}:{self.port}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        try:
            if self.unix_socket:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                try:
                    sock.connect(self.unix_socket)
                except OSError:
                    sock.close()
                    raise
                self._sock = sock
            else:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to {self.address}: {exc}") from exc

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def auth(self, user: str | None, password: str | None) -> None:
        if password:
            self.call(*(["AUTH", user, password] if user else ["AUTH", password]))

    def call(self, *args: object):
        """Send one command and return its reply (bytes decoded as text, errors raised)."""
        if self._sock is None:
            self.connect()
        parts = [str(a).encode() if not isinstance(a, bytes) else a for a in args]
        payload = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        try:
            self._sock.sendall(payload)
            return self._reply()
        except OSError as exc:
            self.close()
            raise RedisConnectionError(f"{self.address}: {exc}") from exc

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise RedisConnectionError(f"{self.address} closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _exact(self, size: int) -> bytes:
        while len(self._buffer) < size + 2:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise RedisConnectionError(f"{self.address} closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._exact(size).decode(errors="surrogateescape")
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _index in range(count)]
        raise RedisError(f"unexpected reply type {kind!r}")


def connect(
    host: str,
    port: int,
    user: str | None,
    password: str | None,
    timeout: float,
    wait: float = 0,
    unix_socket: str = "",
) -> Client:
    """An authenticated client; retries connection failures for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        client = Client(host, port, timeout, unix_socket)
        try:
            client.connect()
            client.auth(user, password)
            client.call("PING")
            return client
        except RedisConnectionError:
            client.close()
            if time.monotonic() >= deadline:
                raise
        except RedisError as exc:
            client.close()
            # LOADING: the server is reading its data set; wait like for a refused connection.
            if not str(exc).startswith("LOADING") or time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


def info(client: Client, section: str = "") -> dict[str, str]:
    text = client.call(*(["INFO", section] if section else ["INFO"])) or ""
    pairs = (
        line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#")
    )
    return dict(pairs)
