"""collectstatic results, whitenoise serving, and collecting only when sources change."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

from ahsp_testing import ROOT_DIR, run_playbook

STATIC = "/srv/ahsp/static"

# Served through the whole Django stack (whitenoise middleware) in-process.
SERVE = """
from django.test import Client
r = Client().get({path!r}, HTTP_ACCEPT_ENCODING="gzip", HTTP_HOST="localhost")
print(r.status_code, r.get("Content-Encoding"), r.get("Cache-Control"))
"""


def _manifest(host) -> dict:
    return json.loads(host.file(f"{STATIC}/staticfiles.json").content_string)["paths"]


def test_roots_owned_by_the_app_user(host):
    static, media = host.file(STATIC), host.file("/srv/ahsp/shared/media")
    assert (static.user, static.mode) == ("ahsp", 0o755)
    assert (media.user, media.mode) == ("ahsp", 0o750)


def test_manifest_has_hashed_names_and_compressed_variants(host):
    hashed = _manifest(host)["css/app.css"]
    assert re.match(r"css/app\.[0-9a-f]{12}\.css$", hashed)
    assert host.file(f"{STATIC}/{hashed}").exists
    assert host.file(f"{STATIC}/{hashed}.gz").exists
    assert "admin/css/base.css" in _manifest(host), "Django admin assets are collected"


def test_hashed_asset_served_compressed_with_long_cache(host):
    hashed = _manifest(host)["css/app.css"]
    code = SERVE.format(path=f"/static/{hashed}")
    out = host.check_output(f"ahsp-manage shell --no-imports -c {shlex.quote(code)}")
    status, encoding, cache = out.splitlines()[-1].split(" ", 2)
    assert status == "200"
    assert encoding == "gzip"
    assert "max-age=315360000" in cache
    assert "immutable" in cache


def test_rerun_does_not_collect_again(host):
    before = host.file(f"{STATIC}/staticfiles.json").mtime
    run = run_playbook("converge.yml")
    assert run.rc == 0, run.tail()
    assert run.changed() == 0, run.tail()
    assert host.file(f"{STATIC}/staticfiles.json").mtime == before


def test_changed_static_source_is_collected_and_reloads(host, tmp_path: Path):
    source = tmp_path / "app"
    shutil.copytree(ROOT_DIR / "app", source, ignore=shutil.ignore_patterns("__pycache__", ".env"))
    js = source / "static" / "js" / "app.js"
    js.write_text(js.read_text() + "\n// molecule: a static change\n")
    old = _manifest(host)["js/app.js"]
    host.check_output(": > /run/molecule-gunicorn-reloads")
    try:
        run = run_playbook("converge.yml", "--extra-vars", f"app_source_dir={source}")
        assert run.rc == 0, run.tail()
        assert "collect | Run collectstatic" in run.output
        new = _manifest(host)["js/app.js"]
        assert new != old
        assert host.file(f"{STATIC}/{new}.gz").exists
        assert "reload" in host.file("/run/molecule-gunicorn-reloads").content_string
    finally:
        back = run_playbook("converge.yml")
        assert back.rc == 0, back.tail()
