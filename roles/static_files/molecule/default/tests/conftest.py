"""Fixtures for the static_files role's tests."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())
sys.path.insert(0, str(ROOT / "tests" / "lib"))
