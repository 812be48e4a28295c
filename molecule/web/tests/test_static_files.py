"""collectstatic into each release's own STATIC_ROOT, whitenoise serving, only on change."""

from __future__ import annotations

import json
import re
import shlex

from ahsp_testing import copy_app, run_playbook
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


def test_rerun_does_not_collect_again(host):
    manifest = f"{live_release(host)}/staticfiles/staticfiles.json"
    before = host.file(manifest).mtime
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert host.file(manifest).mtime == before


def test_changed_static_source_is_collected_into_the_new_release_only(host, tmp_path):
    """The live release keeps its files while the next one is collected (no 404 mid-deploy)."""
    old = live_release(host)
    old_manifest = host.file(f"{old}/staticfiles/staticfiles.json").content_string
    source = copy_app(tmp_path)
    js = source / "static" / "js" / "app.js"
    js.write_text(js.read_text() + "\n// molecule: a static change\n")
    try:
        run = run_playbook("converge.yml", "--extra-vars", f"app_source_dir={source}")
        assert run.rc == 0, run.tail()
        assert "service | Run collectstatic" in run.output
        new = live_release(host)
        assert new != old
        assert _manifest(host, new)["js/app.js"] != json.loads(old_manifest)["paths"]["js/app.js"]
        assert host.file(f"{new}/staticfiles/{_manifest(host, new)['js/app.js']}.gz").exists
        # The previous release's static files are untouched.
        assert host.file(f"{old}/staticfiles/staticfiles.json").content_string == old_manifest
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
