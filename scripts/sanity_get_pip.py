"""Stand-in for the get-pip script ansible-test downloads to bootstrap its virtual environments.

ansible-test creates every environment it uses (the `--venv` delegation one and
one per sanity test) without pip, then runs `get-pip-<version>.py` fetched from
its own file server, which this machine cannot reach. It looks in its cache
first, so scripts/sanity_pip.py copies this file there under that name.

Run with the new environment's interpreter, it does what get-pip does: runs the
pip wheel that ships with Python (ensurepip's) to install the requested pip
release from the package index. It first writes the machine's pip settings as
the environment's own pip.conf (a copy lies next to this file), because
ansible-test hands its subprocesses no PIP_* variables and pip, run there,
would otherwise not find the certificate bundle and package sources.
"""

from __future__ import annotations

import ensurepip
import shutil
import subprocess
import sys
from pathlib import Path

# get-pip options that are not pip options: they skip setuptools and wheel,
# which this stand-in never installs anyway.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def bundled_pip_wheel() -> Path:
    """The pip wheel Python carries for ensurepip: a pip that runs from the wheel itself."""
    places = [Path(ensurepip.__file__).parent / "_bundled", Path("/usr/share/python-wheels")]
    for place in places:
        wheels = sorted(place.glob("pip-*.whl"))
        if wheels:
            return wheels[-1]
    raise SystemExit(f"no bundled pip wheel in {', '.join(map(str, places))}")


def install_pip_conf() -> None:
    """Make the machine's pip settings this environment's own (site-level pip.conf)."""
    settings = Path(__file__).with_name("pip.conf")
    if settings.is_file():
        shutil.copyfile(settings, Path(sys.prefix) / "pip.conf")


def main(argv: list[str]) -> int:
    """Install the pip release ansible-test asks for (argv: pip options and requirements)."""
    install_pip_conf()
    args = [arg for arg in argv if arg not in GET_PIP_ONLY]
    # pip runs from its own wheel (pip's documented way to bootstrap it).
    pip = [sys.executable, f"{bundled_pip_wheel()}/pip"]
    command = [*pip, "install", "--upgrade", "--force-reinstall", *args]
    return subprocess.run(command, check=False).returncode  # noqa: S603 - argv from ansible-test


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
