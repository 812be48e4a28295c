"""Certificates the preflight must refuse for the front, made on the spot with `cryptography`.

Each case is (extra vars, the variable the message must name); the keys'
bodies are secrets the run must never show.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _certificate(key, names: list[str], start: dt.datetime, end: dt.datetime) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _cases() -> tuple[list[tuple[dict, str]], list[str]]:
    key, other = _key(), _key()
    names = ["localhost"]
    day = dt.timedelta(days=1)
    good = _certificate(key, names, NOW - day, NOW + 30 * day)

    def provided(cert: str, private_key: str) -> dict:
        return {
            "nginx_tls_source": "provided",
            "nginx_tls_certificate": cert,
            "nginx_tls_private_key": private_key,
        }

    cases = [
        (provided(good, _pem(other)), "nginx_tls_private_key"),
        (
            provided(_certificate(key, names, NOW - 30 * day, NOW - day), _pem(key)),
            "nginx_tls_certificate",
        ),
        (
            provided(_certificate(key, names, NOW + day, NOW + 30 * day), _pem(key)),
            "nginx_tls_certificate",
        ),
        (
            provided(
                _certificate(key, ["other.example.org"], NOW - day, NOW + 30 * day), _pem(key)
            ),
            "nginx_tls_certificate",
        ),
        (provided("not a certificate", _pem(key)), "nginx_tls_certificate"),
        (provided(good, "not a key"), "nginx_tls_private_key"),
    ]
    bodies = [_pem(k).splitlines()[1] for k in (key, other)]
    return cases, bodies


CERTIFICATE_CASES, CERTIFICATE_KEYS = _cases()
