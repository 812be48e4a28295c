"""Prepare ansible-test's cache so its virtual environments bootstrap pip without its file server.

ansible-test bootstraps pip in each environment it creates with a get-pip
script downloaded from a host this machine cannot reach, unless the script is
already in its cache (`$HOME/.ansible/test/cache/get_pip_<version>.py`). This
writes scripts/sanity_get_pip.py there under that name, and next to it the pip
settings in force here (`pip config list`: configuration files and PIP_*
variables, the latter winning as they do for pip), which the stand-in copies
into every new environment.

Usage: sanity_pip.py CACHE_DIR (the cache of the HOME ansible-test will run with).
"""

from __future__ import annotations

import ast
import configparser
import io
import shutil
import subprocess
import sys
from pathlib import Path

STAND_IN = Path(__file__).with_name("sanity_get_pip.py")
# `pip config list` names environment variables' settings ":env:.<name>".
ENV_SECTION = ":env:"


def pip_settings() -> dict[str, dict[str, str]]:
    """Every pip setting in force for this interpreter's pip, by section.

    PIP_* variables are folded into `global`, over the files' values, as pip
    itself ranks them.
    """
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settings: dict[str, dict[str, str]] = {}
    from_env: dict[str, str] = {}
    for line in listing.splitlines():
        key, sep, quoted = line.partition("=")
        section, dot, name = key.rpartition(".")
        if not (sep and dot):
            continue
        value = str(ast.literal_eval(quoted))
        if section == ENV_SECTION:
            from_env[name] = value
        else:
            settings.setdefault(section, {})[name] = value
    settings.setdefault("global", {}).update(from_env)
    return settings


def render(settings: dict[str, dict[str, str]]) -> str:
    """The settings as a pip.conf."""
    config = configparser.ConfigParser(interpolation=None)
    for section, values in settings.items():
        config[section] = values
    text = io.StringIO()
    config.write(text)
    return text.getvalue()


def bootstrap_pip_version() -> str:
    """The pip release ansible-test installs in its environments: the get-pip script it asks for.

    Read from ansible-test itself (internal API), so that a new ansible-test
    pin that moves to another pip release needs no change here.
    """
    from ansible_test._internal.host_configs import NativePythonConfig
    from ansible_test._internal.python_requirements import get_venv_packages

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return get_venv_packages(NativePythonConfig(version=version, path=sys.executable))["pip"]


def main(argv: list[str]) -> int:
    """Write the stand-in get-pip script and the pip settings into CACHE_DIR."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    cache = Path(argv[0])
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "pip.conf").write_text(render(pip_settings()), encoding="utf-8")
    target = cache / f"get_pip_{bootstrap_pip_version().replace('.', '_')}.py"
    shutil.copyfile(STAND_IN, target)
    print(f"ansible-test pip bootstrap: {target} (pip settings in {cache / 'pip.conf'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
