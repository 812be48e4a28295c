"""A loopback TCP relay that can lose its connections the way a network does.

A Redis restart on the same host closes every client socket with a FIN, which
redis-py notices when it next checks a pooled connection out. A peer that
vanished without one (its host rebooted, a failover moved the address, a
firewall dropped the flow) is only noticed when the next command is answered
by a reset. ``forget()`` produces exactly that: the relay drops its upstream
side, sends the client nothing, and answers the client's next bytes with an
RST (``SO_LINGER`` 0). ``refuse_new`` makes new connections fail the same way
right after the TCP handshake, so reconnect attempts can be counted.

Threads only, bounded by the sockets' own lifetime; ``close()`` ends them all.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.helpers import free_port


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    forgotten: bool = False


@dataclass
class TcpProxy:
    upstream_port: int
    port: int = 0
    accepted: int = 0
    refuse_new: bool = False
    _listener: socket.socket | None = None
    _pairs: list[_Pair] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or free_port()))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.accepted += 1
                refuse = self.refuse_new
            if refuse:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._to_upstream, args=(pair,), daemon=True).start()
            threading.Thread(target=self._to_client, args=(pair,), daemon=True).start()

    def _to_upstream(self, pair: _Pair) -> None:
        while True:
            try:
                data = pair.client.recv(65536)
            except OSError:
                data = b""
            if pair.forgotten:
                _reset(pair.client)  # the client spoke to a connection nobody knows any more
                return
            if not data:
                with contextlib.suppress(OSError):
                    pair.upstream.shutdown(socket.SHUT_WR)
                return
            try:
                pair.upstream.sendall(data)
            except OSError:
                _reset(pair.client)
                return

    def _to_client(self, pair: _Pair) -> None:
        while True:
            try:
                data = pair.upstream.recv(65536)
            except OSError:
                data = b""
            if pair.forgotten:
                return  # silently: no FIN towards the client
            if not data:
                with contextlib.suppress(OSError):
                    pair.client.shutdown(socket.SHUT_WR)
                return
            try:
                pair.client.sendall(data)
            except OSError:
                return

    def forget(self) -> int:
        """Lose every current connection without telling the clients; returns how many."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.forgotten = True
            with contextlib.suppress(OSError):
                pair.upstream.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                pair.upstream.close()
        return len(pairs)

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in (pair.client, pair.upstream):
                with contextlib.suppress(OSError):
                    sock.close()


@contextlib.contextmanager
def tcp_proxy(upstream_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.close()
