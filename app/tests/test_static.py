"""Static files: manifest + compressed storage in effect, served by WhiteNoise, cached for long.

The session fixture already ran collectstatic into a temporary STATIC_ROOT with
the production STORAGES; these tests inspect that output and fetch it through
the full middleware stack with DEBUG off.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

FOREVER = "max-age=315360000"


def manifest(static_root: Path) -> dict[str, str]:
    data = json.loads((static_root / "staticfiles.json").read_text())
    return data["paths"]


def test_storages_setting_uses_manifest_storage() -> None:
    assert settings.STORAGES["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert not hasattr(settings, "STATICFILES_STORAGE")
    mw = settings.MIDDLEWARE
    assert mw.index("detail_project.static_files.ReleaseStaticFilesMiddleware") == (
        mw.index("django.middleware.security.SecurityMiddleware") + 1
    )


@pytest.mark.parametrize("name", ["css/app.css", "js/app.js"])
def test_collectstatic_wrote_manifest_hashed_and_compressed_files(
    static_root: Path, name: str
) -> None:
    paths = manifest(static_root)
    hashed = paths[name]
    stem, suffix = name.rsplit(".", 1)
    assert re.fullmatch(rf"{re.escape(stem)}\.[0-9a-f]{{12}}\.{suffix}", hashed)
    assert (static_root / hashed).is_file()
    assert (static_root / f"{hashed}.gz").is_file()
    if importlib.util.find_spec("brotli"):
        assert (static_root / f"{hashed}.br").is_file()


def test_landing_page_links_hashed_assets_served_with_long_cache(static_root: Path) -> None:
    client = Client()  # new handler → WhiteNoise scans the collected STATIC_ROOT
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    paths = manifest(static_root)
    for name in ("css/app.css", "js/app.js"):
        url = f"/static/{paths[name]}"
        assert url in html
        response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert FOREVER in response["Cache-Control"]
        assert "immutable" in response["Cache-Control"]
        assert response["Content-Encoding"] == "gzip"
        plain = client.get(url)
        assert b"".join(plain.streaming_content) == (static_root / paths[name]).read_bytes()


def test_unhashed_name_is_not_cached_forever() -> None:
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert FOREVER not in response["Cache-Control"]


def _previous_release(tmp_path: Path) -> tuple[Path, str]:
    """A previous release's STATIC_ROOT: an asset only it has, and its own app.css."""
    previous = tmp_path / "previous-staticfiles"
    (previous / "css").mkdir(parents=True)
    (previous / "css" / "old.0123456789ab.css").write_text("body { color: teal }\n")
    (previous / "css" / "app.css").write_text("/* the previous release's app.css */\n")
    return previous, "css/old.0123456789ab.css"


def test_previous_release_hashed_assets_still_resolve(tmp_path: Path, static_root: Path) -> None:
    """A page the previous release rendered keeps its assets after this release went live."""
    previous, old = _previous_release(tmp_path)
    with override_settings(STATIC_PREVIOUS_ROOT=str(previous)):
        client = Client()
        response = client.get(f"/static/{old}")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"body { color: teal }\n"
        # A name both releases have is this release's.
        own = client.get("/static/css/app.css")
        assert b"".join(own.streaming_content) == (static_root / "css" / "app.css").read_bytes()
        # This release's hashed assets are served as before.
        assert client.get(f"/static/{manifest(static_root)['js/app.js']}").status_code == 200


@pytest.mark.parametrize("case", ["missing", "own root"])
def test_previous_root_absent_or_own_adds_nothing(
    tmp_path: Path, static_root: Path, case: str
) -> None:
    """First deploy (no previous release yet) and a root that is this release's own."""
    previous = tmp_path / "absent" if case == "missing" else static_root
    with override_settings(STATIC_PREVIOUS_ROOT=str(previous)):
        assert Client().get("/static/css/old.0123456789ab.css").status_code == 404
        assert Client().get("/static/css/app.css").status_code == 200
