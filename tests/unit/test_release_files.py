"""What a release ships (roles/app/files/build_release.py): every file the app reads at run time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_release", ROOT / "roles" / "app" / "files" / "build_release.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_redis_function_sources_are_shipped():
    shipped = set(_builder().source_files(APP))
    sources = {path.relative_to(APP) for path in (APP / "config" / "redis").glob("*.lua")}
    assert sources, "no Lua sources found"
    assert sources <= shipped


def test_every_file_of_the_apps_packages_is_shipped_or_a_test():
    """A file type the allow-list does not name would be missing on the hosts."""
    shipped = set(_builder().source_files(APP))
    for package in ("config", "detail_project"):
        for path in (APP / package).rglob("*"):
            rel = path.relative_to(APP)
            if path.is_file() and "__pycache__" not in rel.parts and "tests" not in rel.parts:
                assert rel in shipped, rel
