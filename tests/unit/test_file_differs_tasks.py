"""Every task skipped by ahsp.stack.file_differs compares what the task itself would write.

A template or copy task in the roles runs only when the filter in its `when:`
says its file differs. The filter call repeats the task's owner, group, mode
and template; if the two ever disagree, the task runs on every re-run (and
reports nothing) or, for a different template, compares the wrong text. This
reads the roles' task files and holds each filter call against its task.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("ansible.builtin.template", "ansible.builtin.copy")


def _tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key))


def _guarded():
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            when = task.get("when")
            if isinstance(when, str) and "file_differs(" in when:
                yield pytest.param(task, when, id=f"{path.parent.parent.name}: {task['name']}")


def _canonical(task_value) -> str:
    """A task argument as the filter would spell it: a variable name or a quoted literal."""
    text = str(task_value)
    match = re.fullmatch(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", text)
    return match.group(1) if match else f"'{text}'"


def _filter_arg(when: str, name: str) -> str | None:
    match = re.search(rf"\b{name}=('[^']*'|[A-Za-z_][A-Za-z0-9_]*)", when)
    return match.group(1) if match else None


GUARDED = list(_guarded())


def test_the_roles_use_the_filter():
    assert len(GUARDED) >= 15


@pytest.mark.parametrize(("task", "when"), GUARDED)
def test_filter_call_matches_its_task(task, when):
    module = next(m for m in MODULES if m in task)
    args = task[module]
    for name in ("owner", "group", "mode"):
        assert _filter_arg(when, name) == _canonical(args[name]), name
    rendered = re.search(r"lookup\('ansible\.builtin\.(template|file)',\s*'([^']+)'", when)
    if rendered:
        expected = "template" if module == "ansible.builtin.template" else "file"
        assert rendered.groups() == (expected, args["src"])
    else:
        # Compared by checksum: an archive (build_release.py's SHA-1) or a secret file
        # (the probe's secret_files, rendered from the same source).
        assert "checksum=" in when or "content=" not in when
