"""Certificates the preflight must refuse for the front, made on the spot with `cryptography`.

Each case is (extra vars, the variable the message must name); the keys'
bodies are secrets the run must never show.
"""

from __future__ import annotations

import datetime as dt

from ahsp_certs import cert_pem, ec_key, issue, key_pem

NOW = dt.datetime.now(dt.UTC)


def _certificate(key, names: list[str], start: dt.datetime, end: dt.datetime) -> str:
    return cert_pem(issue(key, names[0], sans=names, not_before=start, not_after=end))


def _cases() -> tuple[list[tuple[dict, str]], list[str]]:
    key, other = ec_key(), ec_key()
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
        (provided(good, key_pem(other)), "nginx_tls_private_key"),
        (
            provided(_certificate(key, names, NOW - 30 * day, NOW - day), key_pem(key)),
            "nginx_tls_certificate",
        ),
        (
            provided(_certificate(key, names, NOW + day, NOW + 30 * day), key_pem(key)),
            "nginx_tls_certificate",
        ),
        (
            provided(
                _certificate(key, ["other.example.org"], NOW - day, NOW + 30 * day), key_pem(key)
            ),
            "nginx_tls_certificate",
        ),
        (provided("not a certificate", key_pem(key)), "nginx_tls_certificate"),
        (provided(good, "not a key"), "nginx_tls_private_key"),
    ]
    bodies = [key_pem(k).splitlines()[1] for k in (key, other)]
    return cases, bodies


CERTIFICATE_CASES, CERTIFICATE_KEYS = _cases()
