"""The project's Python code outside bench/, imported from where it lives.

`make bench` starts bench/run.py as a script, so only bench/ is on the
import path; the bench still runs the project's own code rather than
copies of it: the app's limiter (app/config, app/detail_project) and the
Molecule tests' load generator and helpers (tests/lib). Each is imported
from its file and registered under its own name, so its modules import one
another as they do at home, and nothing is added to ``sys.path``. Under
pytest, pytest.ini's pythonpath already makes tests/lib importable: a
module imported that way is the one returned.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from common import ROOT

APP_DIR = ROOT / "app"
TESTS_LIB = ROOT / "tests" / "lib"


def import_from(directory: Path, name: str) -> ModuleType:
    """Top-level module or package `name` of `directory` (`name/` or `name.py`)."""
    if name in sys.modules:
        return sys.modules[name]
    package = directory / name
    if package.is_dir():
        spec = importlib.util.spec_from_file_location(
            name, package / "__init__.py", submodule_search_locations=[str(package)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, directory / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name} from {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
