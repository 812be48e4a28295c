"""Who the client is and whether it used HTTPS, believing forwarded headers only from our proxies.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are plain request headers: any
client can send them. They mean something only when the TCP peer
(``REMOTE_ADDR``) is one of ``TRUSTED_PROXIES``, because then our proxy wrote or
appended them. The rate limiter, login throttling, Django's HTTPS checks and
the request id (``X-Request-ID``) all use the answers from here, so one rule
decides for all of them. Access by network (``/metrics``) looks at the TCP
peer alone.

Django's own ``SECURE_PROXY_SSL_HEADER`` is not used: it believes the header
from whichever peer sends it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CLIENT_ATTR = "_client_ip"


@lru_cache(maxsize=16)
def parse_networks(entries: tuple[str, ...], setting: str) -> tuple[Network, ...]:
    """Parse once per distinct setting value (tests override the settings)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"{setting} entry {entry!r}: {exc}") from exc
    return tuple(networks)


def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries, "TRUSTED_PROXIES")


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``v4:port`` or ``[v6]:port``; IPv4-mapped
    IPv6 is unwrapped so ``::ffff:10.0.0.1`` matches a ``10.0.0.0/8`` entry.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=4096)
def _peer(remote: str) -> tuple[IPAddress | None, str]:
    """``REMOTE_ADDR`` parsed and written back in canonical form, once per distinct peer.

    Parsing an address costs microseconds on every limited request; the peers a
    worker sees repeat (proxies, busy clients), and the answer depends on the
    string alone, so a bounded cache is exact.
    """
    address = parse_address(remote)
    return address, str(address) if address is not None else ""


def is_trusted(address: IPAddress | None) -> bool:
    if address is None:
        return False
    return any(address in network for network in trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def peer_address(request: HttpRequest) -> IPAddress | None:
    """The TCP peer (``REMOTE_ADDR``), never a forwarded header; None when unparsable."""
    return _peer(request.META.get("REMOTE_ADDR", ""))[0]


def peer_is_trusted(request: HttpRequest) -> bool:
    """Is the TCP peer one of our proxies, whose forwarded headers mean something?"""
    return is_trusted(peer_address(request))


def peer_in(request: HttpRequest, entries: list[str], setting: str) -> bool:
    """Is the TCP peer inside one of ``entries`` (the networks of ``setting``)?"""
    address = peer_address(request)
    if address is None or not entries:
        return False
    return any(address in network for network in parse_networks(tuple(entries), setting))


def _forwarded_client(peer: IPAddress, header: str) -> IPAddress:
    """Walk X-Forwarded-For from the right, skipping our proxies: the first other hop is the client.

    Entries left of that hop were written by the client itself and are never
    believed. An entry that is not an address stops the walk at the last hop
    we can vouch for.
    """
    client = peer
    for entry in reversed(header.split(",")):
        address = parse_address(entry)
        if address is None:
            break
        client = address
        if not is_trusted(address):
            break
    return client


def client_ip(request: HttpRequest) -> str:
    """The client address for limits and lockouts (the rate limiter, login throttling)."""
    cached = getattr(request, _CLIENT_ATTR, None)
    if cached is not None:
        return cached
    remote = request.META.get("REMOTE_ADDR", "")
    peer, text = _peer(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if peer is None:
        result = remote or "unknown"
    elif forwarded and is_trusted(peer):
        # Only a header can change the answer, so a request without one (every
        # client that reaches the app directly) never looks at the proxy list.
        result = str(_forwarded_client(peer, forwarded))
    else:
        result = text
    setattr(request, _CLIENT_ATTR, result)
    return result


@lru_cache(maxsize=4096)
def _ipv6_network(address: str, prefix: int) -> str:
    """``2001:db8:1:2::/64`` for any address in that network; the text back unchanged when
    it is not an IPv6 address (``client_ip`` may answer ``unknown``).
    """
    try:
        network = ipaddress.IPv6Network((ipaddress.IPv6Address(address), prefix), strict=False)
    except ValueError:
        return address
    return str(network)


def client_network(request: HttpRequest) -> str:
    """The client as limits and lockouts count it: an IPv4 address as it is, an IPv6
    address by its network of ``RATELIMIT_IPV6_PREFIX`` bits.

    One IPv6 host is usually handed a whole /64 (SLAAC, privacy addresses), so
    counting each address would give a single client 2^64 fresh allowances.
    """
    address = client_ip(request)
    if ":" not in address:
        return address
    return _ipv6_network(address, int(settings.RATELIMIT_IPV6_PREFIX))


def forwarded_scheme(request: HttpRequest) -> str | None:
    """``http``/``https`` from a trusted proxy's X-Forwarded-Proto (right-most value), else None."""
    header = request.META.get("HTTP_X_FORWARDED_PROTO", "")
    if not header or not peer_is_trusted(request):
        return None
    value = header.split(",")[-1].strip().lower()
    return value if value in ("http", "https") else None


class TrustedProxyMiddleware:
    """First in MIDDLEWARE: sets the request scheme a trusted proxy reports, so
    SecurityMiddleware's HTTPS redirect, secure cookies and CSRF origin checks
    see the client's scheme. From any other peer the header changes nothing.

    The scheme lives in the WSGI environ (``request.META``), which is where
    ``request.scheme`` and ``request.is_secure()`` read it from.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scheme = forwarded_scheme(request)
        if scheme is not None:
            request.META["wsgi.url_scheme"] = scheme
        return self.get_response(request)
