"""The collection README's plugin table (scripts/plugin_docs.py): every plugin, from its docs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script():
    """scripts/plugin_docs.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("plugin_docs", ROOT / "scripts/plugin_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


plugin_docs = _load_script()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def collection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module backed by an action, a plain module, a file with two filters, a vars plugin."""
    root = tmp_path / "ansible_collections/ns/col"
    monkeypatch.setattr(plugin_docs, "ROOT", tmp_path)
    _write(root / "plugins/action/check.py", "class ActionModule: pass\n")
    _write(root / "plugins/modules/check.py", 'DOCUMENTATION = "short_description: Check C(x)"\n')
    _write(root / "plugins/modules/plain.py", 'DOCUMENTATION = r"""\nshort_description: A|B\n"""\n')
    _write(
        root / "plugins/filter/quoting.py",
        "class FilterModule:\n    def filters(self):\n        return {'one': f, 'two': g}\n",
    )
    _write(root / "plugins/filter/one.yml", "DOCUMENTATION:\n  short_description: First\n")
    _write(root / "plugins/filter/two.yml", "DOCUMENTATION:\n  short_description: Second\n")
    _write(root / "plugins/vars/wiring.py", 'DOCUMENTATION = "short_description: Wiring"\n')
    _write(root / "plugins/module_utils/helper.py", "X = 1\n")
    return root


def test_every_plugin_is_a_row_in_kind_order(collection):
    plugins, problems = plugin_docs.collect(collection)
    assert problems == []
    assert [(p.name, p.kind, p.short_description) for p in plugins] == [
        ("check", "module (action plugin: runs on the controller)", "Check `x`"),
        ("plain", "module", "A\\|B"),
        ("one", "filter", "First"),
        ("two", "filter", "Second"),
        ("wiring", "vars plugin", "Wiring"),
    ]


def test_a_filter_without_its_sidecar_is_a_problem(collection):
    (collection / "plugins/filter/two.yml").unlink()
    _, problems = plugin_docs.collect(collection)
    source = "ansible_collections/ns/col/plugins/filter/quoting.py"
    assert problems == [f"filter two ({source}): no short_description"]


def test_an_action_without_its_module_is_a_problem(collection):
    (collection / "plugins/modules/check.py").unlink()
    _, problems = plugin_docs.collect(collection)
    assert problems == ["action check: no module of its name to document it"]


def test_rows_link_the_code(collection):
    plugins, _ = plugin_docs.collect(collection)
    table = plugin_docs.render(plugins, collection)
    assert "| [`one`](plugins/filter/quoting.py) | filter | First |" in table.splitlines()


def test_markup_is_flattened_for_markdown():
    text = (
        "Sets O(mode) to V(0640), see M(ansible.builtin.file) and L(docs,https://x.invalid); I(no)"
    )
    assert plugin_docs.plain_text(text) == (
        "Sets `mode` to `0640`, see `ansible.builtin.file` and docs; no"
    )


def test_a_cited_file_that_does_not_exist_is_reported():
    text = "See `tests/unit/test_inputs.py`, `test_formats.py` and `tests/lint/test_inputs.py`."
    assert plugin_docs.missing_citations(text) == ["tests/lint/test_inputs.py"]
