#!/usr/bin/env python3
"""Build what app hosts install, on the control machine (hosts need no index).

Two artefacts, both content-addressed so an unchanged tree builds nothing and
a deploy of the same code is a no-op on every host:

* ``releases/ahsp-app-<id>.tar.gz``: the app source (an explicit allow list
  of files, see below), byte-for-byte reproducible (sorted entries, fixed
  mtimes and owners, gzip without a timestamp), where ``<id>`` is a hash of
  the files it contains; a ``RELEASE`` file in it holds ``<id>``, so the
  running code can report which release it is;
* ``wheelhouse/<req>/``: every wheel pinned in requirements.txt, downloaded
  once with ``--require-hashes``, and the lock itself (``<req>`` is a hash of
  that file).

Prints one JSON object for the playbook: ids, paths and whether anything new
was built.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

# What a release is made of: an explicit allow list. Only files with these
# suffixes are shipped, and nothing under a hidden path (.env, .venv, .git,
# ...), a test or cache directory, or any directory holding a virtualenv:
# a developer's local settings, databases and bytecode never reach a host.
SHIPPED_SUFFIXES = {
    ".py", ".lua", ".html", ".txt", ".toml", ".css", ".js", ".json",
    ".svg", ".png", ".ico", ".woff2",
}  # fmt: skip
EXCLUDED_DIRS = {"tests", "__pycache__", "staticfiles", "media", "node_modules", "build", "dist"}
RELEASE_FILE = "RELEASE"  # the release id, written into the archive; the app reports it
MTIME = 1_700_000_000  # fixed, so `tar --diff` on hosts sees no change between builds


def _venv_dirs(root: Path) -> set[Path]:
    return {cfg.parent.relative_to(root) for cfg in root.rglob("pyvenv.cfg")}


def source_files(root: Path) -> list[Path]:
    """Files of the release, sorted for a stable hash and archive."""
    venvs = _venv_dirs(root)
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part in EXCLUDED_DIRS for part in rel.parts):
            continue
        if any(venv in rel.parents for venv in venvs) or rel.name == RELEASE_FILE:
            continue
        if path.is_file() and not path.is_symlink() and path.suffix in SHIPPED_SUFFIXES:
            files.append(rel)
    return files


def tree_id(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for rel in files:
        data = (root / rel).read_bytes()
        executable = (root / rel).stat().st_mode & 0o111
        digest.update(f"{rel}\0{1 if executable else 0}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:12]


def write_archive(root: Path, files: list[Path], release_id: str, target: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        marker = f"{release_id}\n".encode()
        info = tarfile.TarInfo(RELEASE_FILE)
        info.size, info.mtime, info.mode = len(marker), MTIME, 0o644
        tar.addfile(info, io.BytesIO(marker))
        dirs = sorted({p for rel in files for p in rel.parents if str(p) != "."})
        for rel in dirs:
            info = tarfile.TarInfo(str(rel))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for rel in files:
            data = (root / rel).read_bytes()
            info = tarfile.TarInfo(str(rel))
            info.size, info.mtime = len(data), MTIME
            info.mode = 0o755 if (root / rel).stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())
    tmp.replace(target)


def build_wheelhouse(requirements: Path, target: Path) -> bool:
    """Download the pinned wheels once, the lock beside them (.complete marks a finished run)."""
    if (target / ".complete").is_file():
        return False
    target.mkdir(parents=True, exist_ok=True)
    (target / "requirements.txt").write_bytes(requirements.read_bytes())
    subprocess.run(  # noqa: S603 - fixed argv, our own interpreter and paths
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--require-hashes", "--only-binary=:all:", "--no-deps",
            "--dest", str(target), "--requirement", str(requirements),
        ],
        check=True,
    )  # fmt: skip
    (target / ".complete").write_text("")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the app/ directory")
    parser.add_argument("--out", type=Path, required=True, help="build directory")
    args = parser.parse_args()

    source = args.source.resolve()
    requirements = source / "requirements.txt"
    if not (source / "manage.py").is_file() or not requirements.is_file():
        print(f"{source} is not the app directory (no manage.py/requirements.txt)", file=sys.stderr)
        return 2

    files = source_files(source)
    release_id = tree_id(source, files)
    requirements_id = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]

    releases = args.out / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    archive = releases / f"ahsp-app-{release_id}.tar.gz"
    built_archive = not archive.is_file()
    if built_archive:
        write_archive(source, files, release_id, archive)
    wheelhouse = args.out / "wheelhouse" / requirements_id
    built_wheels = build_wheelhouse(requirements, wheelhouse)

    print(
        json.dumps(
            {
                "release_id": release_id,
                "archive": str(archive.resolve()),
                # What the host's copy is compared with (SHA-1, Ansible's file checksum).
                "archive_sha1": hashlib.sha1(archive.read_bytes()).hexdigest(),  # noqa: S324
                "requirements_id": requirements_id,
                "wheelhouse": str(wheelhouse.resolve()),
                "changed": built_archive or built_wheels,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
