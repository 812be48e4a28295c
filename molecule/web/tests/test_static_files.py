"""collectstatic into each release's own STATIC_ROOT, whitenoise serving, only on change."""

from __future__ import annotations

import json
import re
import shlex

from conftest import live_release

# Served through the whole Django stack (whitenoise middleware) in-process.
SERVE = """
from django.test import Client
r = Client().get({path!r}, HTTP_ACCEPT_ENCODING="gzip", HTTP_HOST="localhost")
print(r.status_code, r.get("Content-Encoding"), r.get("Cache-Control"))
"""


def _manifest(host, release: str) -> dict:
    return json.loads(host.file(f"{release}/staticfiles/staticfiles.json").content_string)["paths"]


def test_static_root_of_the_release_owned_by_the_app_user(host):
    static = host.file(f"{live_release(host)}/staticfiles")
    assert (static.user, static.group, static.mode) == ("ahsp", "ahsp", 0o755)


def test_manifest_has_hashed_names_and_compressed_variants(host):
    release = live_release(host)
    hashed = _manifest(host, release)["css/app.css"]
    assert re.match(r"css/app\.[0-9a-f]{12}\.css$", hashed)
    assert host.file(f"{release}/staticfiles/{hashed}").exists
    assert host.file(f"{release}/staticfiles/{hashed}.gz").exists
    assert "admin/css/base.css" in _manifest(host, release), "Django admin assets are collected"


def test_hashed_asset_served_compressed_with_long_cache(host):
    hashed = _manifest(host, live_release(host))["css/app.css"]
    code = SERVE.format(path=f"/static/{hashed}")
    out = host.check_output(f"ahsp-manage shell --no-imports -c {shlex.quote(code)}")
    status, encoding, cache = out.splitlines()[-1].split(" ", 2)
    assert status == "200"
    assert encoding == "gzip"
    assert "max-age=315360000" in cache
    assert "immutable" in cache
