"""The nginx front's TLS certificate and private key, checked on the controller before any host changes.

The front serves the certificate and key the inventory gives. nginx finds
some faults only when it (re)starts and then stays down: a certificate or
key that does not parse, a key of another certificate, a key with a
passphrase (nginx asks for it on a terminal, which a service has not). The
others it serves without a word and every browser refuses: a certificate
expired or not yet valid, one that does not name the site, a weak key. The
preflight runs this filter first, so each fault is refused naming the
variable that holds it, and no host has changed.

The private key is a secret: no message and no exception carries any part of
it. The certificate text is not echoed either (a wrong paste may hold
anything).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible.errors import AnsibleFilterError

# ansible-core depends on cryptography, so the controller has it; ansible-test's
# import check and ansible-doc load plugins without it, and the filter says so
# when called there.
try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.asymmetric.types import (
        CertificatePublicKeyTypes,
        PrivateKeyTypes,
    )
except ImportError as exc:
    _CRYPTOGRAPHY_MISSING: ImportError | None = exc
else:
    _CRYPTOGRAPHY_MISSING = None

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# One PEM block: its label and everything up to the END line of that label.
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
# The least RSA size NIST (SP 800-131A) and the CA/Browser Forum's rules allow since 2014.
_MIN_RSA_BITS = 2048


def _text(value: Any) -> str:
    """The value as an exact ``str``, CRLF as LF.

    Ansible hands in str subclasses (tagged or vaulted values), a file lookup
    may give bytes, an unset value None; all become plain text.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str.__str__(str(value)).replace("\r\n", "\n")


def _blocks(text: str) -> list[tuple[str, str]]:
    """Each PEM block of the text, in order: its label and the whole block.

    Text between blocks is ignored, as OpenSSL (and so nginx) ignores it.
    """
    return [(match[1], match[0]) for match in _PEM_BLOCK.finditer(text)]


def _iso(moment: datetime) -> str:
    """A UTC moment as ISO 8601 to the second, ``2026-01-31T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(now: Any) -> datetime:
    """The moment to check validity at: ``now`` (a datetime or ISO 8601 text) or the current time.

    A datetime without a zone is taken as UTC. A fixed moment makes the
    check repeatable (tests, a run planned for later).
    """
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(_text(now))
        except ValueError as exc:
            raise AnsibleFilterError(f"certificate_problems: now={now!r} is not ISO 8601") from exc
    if not isinstance(now, datetime):
        raise AnsibleFilterError(
            f"certificate_problems: now must be a datetime or ISO 8601 text, not {type(now).__name__}"
        )
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _days(min_days: Any) -> int:
    """``min_days`` as a whole number of days, 0 or more."""
    try:
        days = int(min_days)
    except (TypeError, ValueError):
        days = -1
    if isinstance(min_days, bool) or days < 0:
        raise AnsibleFilterError(
            f"certificate_problems: min_days must be a whole number of days, 0 or more, not {min_days!r}"
        )
    return days


def _names(server_names: Any) -> list[str]:
    """The server names as a list of text (one name may be given alone)."""
    if server_names is None:
        return []
    if isinstance(server_names, str | bytes):
        return [_text(server_names)]
    return [_text(name) for name in server_names]


def _certificates(
    text: str, variable: str, key_variable: str
) -> tuple[list[x509.Certificate | None], list[str]]:
    """Each certificate of the text (None where one does not parse), the server's first; and their problems.

    nginx sends the whole file: the server's certificate first, then the
    intermediates. Each must parse; the chain's are not checked further
    (an expired cross-signed root is sometimes served on purpose).
    """
    blocks = _blocks(text)
    problems: list[str] = []
    labels = [label for label, block in blocks]
    if any(label.endswith("PRIVATE KEY") for label in labels):
        problems.append(
            f"{variable}: holds a private key; the key belongs in {key_variable} only, "
            f"remove it from {variable}"
        )
    pems = [block for label, block in blocks if label == "CERTIFICATE"]
    if not pems:
        problems.append(
            f"{variable}: is not a PEM certificate (no -----BEGIN CERTIFICATE----- block); "
            "give the server's certificate first, then its chain"
        )
        return [], problems
    parsed = [_parsed_certificate(pem) for pem in pems]
    for number, cert in enumerate(parsed, 1):
        if cert is None:
            role = "the server's certificate" if number == 1 else "a chain certificate"
            problems.append(
                f"{variable}: certificate {number} of {len(pems)} ({role}) "
                "does not parse as an X.509 certificate"
            )
    return parsed, problems


def _parsed_certificate(pem: str) -> x509.Certificate | None:
    """The certificate of one PEM block, its key and extensions readable; None when not."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        cert.public_key()
        cert.extensions  # noqa: B018 -- parsed lazily: a malformed extension raises here
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension):
        return None  # what cryptography raises for input it cannot read
    return cert


def _private_key(text: str, key_variable: str) -> tuple[PrivateKeyTypes | None, list[str]]:
    """The one unencrypted private key of the text; None and a problem when there is none.

    An encrypted key is refused: nginx would ask for its passphrase on a
    terminal at every start, so the service cannot start by itself.
    """
    keys = [(label, block) for label, block in _blocks(text) if label.endswith("PRIVATE KEY")]
    if len(keys) != 1:
        found = "none" if not keys else f"{len(keys)}"
        return None, [
            f"{key_variable}: is not a PEM private key (expected one "
            f"-----BEGIN ... PRIVATE KEY----- block, found {found})"
        ]
    label, block = keys[0]
    encrypted = [
        f"{key_variable}: the private key is encrypted (has a passphrase), which nginx would ask "
        "for at every start; give it without one (openssl pkey -in encrypted.pem -out key.pem) "
        "and keep it in the vault"
    ]
    if label == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in block:
        return None, encrypted
    try:
        return serialization.load_pem_private_key(block.encode(), password=None), []
    except TypeError:  # cryptography's word for "encrypted, and no password given"
        return None, encrypted
    except (ValueError, UnsupportedAlgorithm):
        return None, [f"{key_variable}: the {label} block does not parse as a private key"]


def _spki(public_key: Any) -> bytes:
    """A public key as DER SubjectPublicKeyInfo: equal exactly when the keys are (any key type)."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _match_problems(
    key: PrivateKeyTypes,
    certs: Sequence[x509.Certificate | None],
    variable: str,
    key_variable: str,
) -> list[str]:
    """The key must be the server certificate's (the first): nginx refuses to start otherwise.

    When it is the key of a later certificate, the file is in the wrong
    order, and the message says so.
    """
    wanted = _spki(key.public_key())
    matches = [n for n, c in enumerate(certs, 1) if c and _spki(c.public_key()) == wanted]
    if matches[:1] == [1]:
        return []
    hint = (
        f"; it is the key of certificate {matches[0]} in {variable}: the server's certificate "
        "must come first, then its chain"
        if matches
        else ""
    )
    return [
        f"{key_variable}: the private key does not match the certificate in {variable} "
        f"(their public keys differ){hint}"
    ]


def _validity_problems(
    cert: x509.Certificate, variable: str, now: datetime, min_days: int
) -> list[str]:
    """Browsers refuse a certificate outside its validity; ``min_days`` leaves time to renew."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < not_before:
        return [f"{variable}: not valid yet: valid from {_iso(not_before)} (now {_iso(now)})"]
    if now > not_after:
        return [f"{variable}: expired on {_iso(not_after)} (now {_iso(now)})"]
    if not_after - now < timedelta(days=min_days):
        return [
            f"{variable}: expires on {_iso(not_after)}, within {min_days} days "
            f"(now {_iso(now)}); renew it"
        ]
    return []


def _ip(name: str) -> IPAddress | None:
    """The name as an IP address; None when it is a host name."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _a_label(host: str) -> str:
    """A host name as certificates hold it: IDNA A-labels (``xn--...``) for non-ASCII names."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _covered(name: str, dns_names: Sequence[str], ips: Sequence[IPAddress]) -> bool:
    """Whether a subjectAltName covers a server name, as browsers match (RFC 6125).

    An IP matches IP entries only. A host name matches a DNS entry equal to
    it (case-insensitive, a final dot ignored), or ``*.rest`` when it is one
    label followed by ``rest``: a wildcard is the whole leftmost label, covers
    one label only, and needs two labels after it (``*.org`` covers nothing).
    """
    host = name.strip().strip("[]").rstrip(".").lower()
    address = _ip(host)
    if address is not None:
        return address in ips
    host = _a_label(host)
    label = host.split(".", 1)[0]
    rest = host[len(label) + 1 :]
    for pattern in (entry.rstrip(".").lower() for entry in dns_names):
        if pattern == host:
            return True
        wildcard_rest = pattern[2:] if pattern.startswith("*.") else ""
        if wildcard_rest.count(".") >= 1 and label not in ("", "*") and rest == wildcard_rest:
            return True
    return False


def _name_problems(cert: x509.Certificate, names: Sequence[str], variable: str) -> list[str]:
    """Every server name must be in the subjectAltName; browsers ignore the subject's CN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [
            f"{variable}: the certificate has no subjectAltName, so browsers refuse it for every "
            "name (they ignore the subject's CN); reissue it with the server names as DNS names"
        ]
    dns_names = san.get_values_for_type(x509.DNSName)
    ips = san.get_values_for_type(x509.IPAddress)
    missing = [name for name in names if not _covered(name, dns_names, ips)]
    if not missing:
        return []
    covered = ", ".join([*dns_names, *(str(ip) for ip in ips)]) or "nothing"
    return [f"{variable}: does not cover {', '.join(missing)} (its subjectAltName names {covered})"]


def _key_kind(public_key: CertificatePublicKeyTypes) -> str | None:
    """RSA, EC or Ed25519 (the types nginx and browsers agree on); None for any other."""
    kinds = (
        (rsa.RSAPublicKey, "RSA"),
        (ec.EllipticCurvePublicKey, "EC"),
        (ed25519.Ed25519PublicKey, "Ed25519"),
    )
    return next((kind for cls, kind in kinds if isinstance(public_key, cls)), None)


def _strength_problems(
    public_key: CertificatePublicKeyTypes, variable: str, key_variable: str
) -> list[str]:
    """The certificate's key must be RSA of 2048 bits or more, EC or Ed25519."""
    kind = _key_kind(public_key)
    if kind is None:
        name = type(public_key).__name__.removeprefix("_").removesuffix("PublicKey")
        return [
            f"{variable}: the certificate's key is {name}; the front takes RSA "
            f"({_MIN_RSA_BITS} bits or more), EC or Ed25519 keys"
        ]
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < _MIN_RSA_BITS:
        return [
            f"{variable}: the certificate's RSA key has {public_key.key_size} bits, below the "
            f"{_MIN_RSA_BITS} required; issue a new certificate for a new key ({key_variable})"
        ]
    return []


def certificate_problems(
    cert_pem: Any,
    key_pem: Any,
    server_names: Any,
    variable: str = "nginx_tls_certificate",
    now: Any = None,
    min_days: int = 0,
    key_variable: str = "nginx_tls_private_key",
) -> list[str]:
    """The problems of a certificate (with its chain) and private key for the given server names; [] when fine.

    Each message starts with the variable that holds the fault (``variable``
    for the certificate, ``key_variable`` for the key). Validity is checked
    at ``now`` (default: the current time), and a certificate expiring
    within ``min_days`` days is refused too. Nothing of the private key
    appears in any message.
    """
    if _CRYPTOGRAPHY_MISSING is not None:
        raise AnsibleFilterError(
            "certificate_problems needs the Python package cryptography on the controller"
        ) from _CRYPTOGRAPHY_MISSING
    variable, key_variable = _text(variable), _text(key_variable)
    moment, days, names = _moment(now), _days(min_days), _names(server_names)
    certs, problems = _certificates(_text(cert_pem), variable, key_variable)
    key, key_problems = _private_key(_text(key_pem), key_variable)
    problems += key_problems
    cert = certs[0] if certs else None
    if cert is None:
        return problems
    if key is not None:
        problems += _match_problems(key, certs, variable, key_variable)
    problems += _validity_problems(cert, variable, moment, days)
    problems += _name_problems(cert, names, variable)
    problems += _strength_problems(cert.public_key(), variable, key_variable)
    return problems


class FilterModule:
    """TLS material of the nginx front, checked before any host changes."""

    def filters(self) -> dict[str, Any]:
        return {"certificate_problems": certificate_problems}
