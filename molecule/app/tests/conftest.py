"""Fixtures for the app role's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())
sys.path.insert(0, str(ROOT / "tests" / "lib"))


@pytest.fixture(scope="module")
def app_vars(host) -> dict:
    return host.ansible.get_variables()
