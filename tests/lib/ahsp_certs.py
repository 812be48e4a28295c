"""Keys and X.509 certificates for the tests, made on the spot with `cryptography`.

One place for what the certificate tests, the front's bad-input cases, the
ACME test's CA and the bench's TLS fixtures all need: a CA, certificates it
signs (or self-signed ones) for a list of names, and PEM text of both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID


def ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: quick to make, and what the roles' own CA uses."""
    return ec.generate_private_key(ec.SECP256R1())


def name(common_name: str) -> x509.Name:
    """A subject or issuer of one CN."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def san(entries: Sequence[str]) -> x509.SubjectAlternativeName:
    """DNS entries for names, IP entries for addresses."""
    general: list[x509.GeneralName] = []
    for entry in entries:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            general.append(x509.DNSName(entry))
    return x509.SubjectAlternativeName(general)


def issue(
    key: Any,
    subject: str,
    *,
    signer: tuple[Any, x509.Certificate] | None = None,
    sans: Sequence[str] | None = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for ``key``, signed by ``signer`` (its key and certificate) or self-signed.

    ``sans`` None leaves the subjectAltName out (what browsers refuse); the
    validity defaults to an hour ago until a day from now.
    """
    now = datetime.now(UTC)
    signing_key, issuer = (key, name(subject)) if signer is None else (signer[0], signer[1].subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(hours=1))
        .not_valid_after(not_after or now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(san(sans), critical=False)
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signing_key, algorithm)


def cert_pem(*certs: x509.Certificate) -> str:
    """The certificates in PEM, in order (a server's certificate, then its chain)."""
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def key_pem(
    key: Any,
    form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    passphrase: bytes | None = None,
) -> str:
    """The key in PEM (PKCS#8 or the traditional form), encrypted when a passphrase is given."""
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, form, encryption).decode()
