"""ahsp.stack.path_info on this machine's file system, run by Ansible itself.

The module answers, in one run and changing nothing, what a role would
otherwise ask path by path: `probe` what stat tells (exists, and where a link resolves),
`list` what ansible.builtin.find listed, and `trees` whether an unpacked
release is in place as ansible.builtin.unarchive leaves it. Runs
`ansible localhost -m ...`; the tree cases set owners and need root.
"""

from __future__ import annotations

import grp
import io
import os
import pwd
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible_json import local_module

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners: needs root")


def run(args: dict, *flags: str) -> dict:
    """One module run through ansible's own executor; the host's JSON result."""
    return local_module("ahsp.stack.path_info", args, *flags)


def test_probe_reports_existence_and_where_links_resolve(tmp_path):
    release = tmp_path / "releases/r1"
    release.mkdir(parents=True)
    (tmp_path / "current").symlink_to(release)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    probe = [str(tmp_path / n) for n in ("current", "dangling", "releases/r1", "absent")]
    result = run({"probe": probe}, "--check")  # read-only: the same answer in check mode
    assert result["changed"] is False
    assert result["exists"] == dict(zip(probe, [True, True, True, False], strict=True))
    assert result["links"] == {probe[0]: str(release), probe[1]: str(tmp_path / "gone")}


def test_list_reports_entries_sorted_with_type_and_time(tmp_path):
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "r2").mkdir()
    (releases / "r1").mkdir()
    (releases / "r1.tar.gz").write_bytes(b"")
    os.utime(releases / "r1.tar.gz", (1_700_000_000, 1_700_000_000))
    result = run({"list": [str(releases), str(tmp_path / "absent")]})
    assert result["changed"] is False
    listing = result["listings"][str(releases)]
    assert [(Path(e["path"]).name, e["isdir"]) for e in listing] == [
        ("r1", True),
        ("r1.tar.gz", False),
        ("r2", True),
    ]
    assert listing[1]["mtime"] == 1_700_000_000.0
    assert all(isinstance(e["mtime"], float) for e in listing)
    assert result["listings"][str(tmp_path / "absent")] == []


def _release(tmp_path: Path) -> tuple[Path, Path]:
    """An archive as build_release.py writes one (fixed mtimes, 0644/0755), unpacked by GNU tar
    and handed to root:nogroup, as the app role's unarchive task leaves it.
    """
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, mode, data in [
            ("pkg", 0o755, None),
            ("pkg/app.py", 0o644, b"print('hello')\n"),
            ("pkg/run.sh", 0o755, b"#!/bin/sh\n"),
            ("RELEASE", 0o644, b"abc\n"),
        ]:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1_700_000_000, mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "release"
    dest.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(dest)], check=True)
    for path in [dest, *dest.rglob("*")]:
        os.chown(path, 0, grp.getgrnam("nogroup").gr_gid)
    return archive, dest


def _trees(pairs: list[tuple[Path, Path]]) -> dict:
    spec = {
        "trees": [
            {"archive": str(archive), "dest": str(dest), "group": "nogroup"}
            for archive, dest in pairs
        ]
    }
    result = run(spec)
    assert result["changed"] is False, result
    return result["trees"]


@ROOT_ONLY
def test_trees_report_whether_a_release_is_unpacked_as_unarchive_leaves_it(tmp_path):
    archive, dest = _release(tmp_path)
    assert _trees([(archive, dest)]) == {str(dest): True}
    # What unarchive ignores, this ignores: entries that are not in the archive.
    (dest / "pkg" / "extra.txt").write_text("not in the archive\n")
    assert _trees([(archive, dest)]) == {str(dest): True}


def _drift(drift: str, archive: Path, dest: Path) -> None:
    app = dest / "pkg" / "app.py"
    if drift == "content, same size and time":
        stamp = app.stat().st_mtime
        app.write_bytes(b"print('HELLO')\n")
        os.utime(app, (stamp, stamp))
        os.chown(app, 0, grp.getgrnam("nogroup").gr_gid)
    elif drift == "a file removed":
        app.unlink()
    elif drift == "a directory removed":
        shutil.rmtree(dest / "pkg")
    elif drift == "a file's mode":
        app.chmod(0o664)
    elif drift == "a directory's mode":
        (dest / "pkg").chmod(0o775)
    elif drift == "a file's group":
        os.chown(app, 0, 0)
    elif drift == "a file's owner":
        os.chown(app, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    elif drift == "a file's time":
        os.utime(app, (1_700_000_100, 1_700_000_100))
    elif drift == "a file replaced by a link":
        app.unlink()
        app.symlink_to(dest / "RELEASE")
    elif drift == "the archive unreadable":
        archive.write_bytes(b"not gzip")
    elif drift == "the archive missing":
        archive.unlink()


DRIFTS = [
    "content, same size and time",
    "a file removed",
    "a directory removed",
    "a file's mode",
    "a directory's mode",
    "a file's group",
    "a file's owner",
    "a file's time",
    "a file replaced by a link",
    "the archive unreadable",
    "the archive missing",
]


@ROOT_ONLY
def test_trees_report_every_kind_of_drift(tmp_path):
    """One release per kind of drift, all compared in one module run."""
    pairs = {}
    for index, drift in enumerate(DRIFTS):
        base = tmp_path / str(index)
        base.mkdir()
        archive, dest = _release(base)
        _drift(drift, archive, dest)
        pairs[drift] = (archive, dest)
    trees = _trees(list(pairs.values()))
    assert {drift: trees[str(dest)] for drift, (_a, dest) in pairs.items()} == dict.fromkeys(
        DRIFTS, False
    )
