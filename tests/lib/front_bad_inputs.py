"""Values the front (the nginx role) must refuse, each with the variable the refusal must name.

Every value lands in an nginx file, so each is held to what nginx reads
there: names with spaces, quotes, line breaks or misplaced wildcards,
characters that end or open a directive or block, ports out of range, sizes
and times nginx would not parse, and the certificate cases. The web
scenario runs them against its real host (nothing may change there); the
unit tests run them with the roles' other values on the controller.
"""

from __future__ import annotations

from front_certificates import CERTIFICATE_CASES

FRONT_BAD_INPUTS = [
    ({"nginx_server_names": ["two words"]}, "nginx_server_names"),
    ({"nginx_server_names": ['a.example.org"; include /etc/shadow']}, "nginx_server_names"),
    ({"nginx_server_names": ["a.example.org\nlisten 81;"]}, "nginx_server_names"),
    ({"nginx_server_names": ["*example.org"]}, "nginx_server_names"),
    ({"nginx_server_names": ["example.org;"]}, "nginx_server_names"),
    ({"nginx_server_names": ["example.org}"]}, "nginx_server_names"),
    ({"nginx_upstreams": ["127.0.0.1:70000"]}, "nginx_upstreams"),
    ({"nginx_upstreams": ["localhost:8000"]}, "nginx_upstreams"),
    ({"nginx_upstreams": "127.0.0.1:8000"}, "nginx_upstreams"),
    ({"nginx_client_max_body_size": "10m"}, "nginx_client_max_body_size"),
    ({"nginx_client_max_body_size": 0}, "nginx_client_max_body_size"),
    ({"nginx_https_port": 0}, "nginx_https_port"),
    ({"nginx_https_port": 80}, "nginx_https_port"),
    ({"nginx_client_header_timeout": "10s"}, "nginx_client_header_timeout"),
    ({"nginx_trusted_proxies": ["10.0.0.1/8"]}, "nginx_trusted_proxies"),
    ({"nginx_maintenance_allow": ["10.0.0.0/8; allow all"]}, "nginx_maintenance_allow"),
    ({"nginx_tls_source": "acme-v1"}, "nginx_tls_source"),
    ({"nginx_tls_source": "provided"}, "nginx_tls_certificate"),
    # A key that does not match its certificate, expired, not yet valid, not
    # covering the names, not PEM: refused, the keys never shown.
    *CERTIFICATE_CASES,
]
