"""Every plugin of the collection documents itself in YAML that ansible-doc can read."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "collections/ansible_collections/ahsp/stack/plugins"
# Plugins document themselves in a module-level DOCUMENTATION string; a doc
# fragment holds its text in a class attribute, which ansible-doc reads
# through the modules that extend it.
DOCUMENTED = sorted(
    p
    for p in PLUGINS.rglob("*.py")
    if "DOCUMENTATION" in p.read_text()
    and p.name != "__init__.py"
    and p.parent.name != "doc_fragments"
)


def _doc_strings(path: Path) -> dict[str, str]:
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("DOCUMENTATION", "RETURN", "EXAMPLES"):
                found[name] = node.value.value
    return found


@pytest.mark.parametrize("path", DOCUMENTED, ids=lambda p: str(p.relative_to(PLUGINS)))
def test_documentation_is_yaml(path):
    docs = _doc_strings(path)
    assert "DOCUMENTATION" in docs
    for name, text in docs.items():
        assert yaml.safe_load(text) is not None, name


@pytest.mark.parametrize(
    "path",
    [p for p in DOCUMENTED if p.parent.name == "modules"],
    ids=lambda p: p.stem,
)
def test_ansible_doc_reads_each_module(path):
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections")}
    result = subprocess.run(
        ["ansible-doc", "-t", "module", f"ahsp.stack.{path.stem}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr[-800:]
