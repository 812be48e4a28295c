"""ahsp.stack.directories on this machine's file system, run by Ansible itself.

The module replaces a loop of ansible.builtin.file (state=directory) with one
module run, so it must do what that loop did: create with parents, correct
owner, group and mode (setgid included), leave a converged tree alone, touch
nothing in check mode, and refuse a path that is not a directory. Its probe
answers what the app role used to ask with stat: exists, and where a link
resolves; its `files` report what a template task compares (checksum, owner,
group, mode) and its `list` what ansible.builtin.find listed. Runs
`ansible localhost -m ...` as the machine's root.
"""

from __future__ import annotations

import grp
import hashlib
import io
import json
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible_json import ansible_json

ROOT = Path(__file__).resolve().parents[2]
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners: needs root")


def run(args: dict, *flags: str) -> dict:
    """One module run through ansible's own executor; the host's JSON result."""
    report = ansible_json(
        "ansible", "localhost", "-c", "local", "-m", "ahsp.stack.directories",
        "-a", json.dumps(args), *flags,
    )  # fmt: skip
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


def attrs(path: Path) -> tuple[str, str, str]:
    st = path.stat()
    return (
        pwd.getpwuid(st.st_uid).pw_name,
        grp.getgrgid(st.st_gid).gr_name,
        oct(stat.S_IMODE(st.st_mode)),
    )


@ROOT_ONLY
def test_creates_with_parents_then_changes_nothing(tmp_path):
    base = tmp_path / "srv"
    spec = {
        "directories": [
            {"path": str(base), "group": "nogroup", "mode": "0750"},
            {"path": str(base / "a/b"), "owner": "nobody", "group": "nogroup", "mode": "2750"},
        ]
    }
    first = run(spec)
    assert first["changed"] is True, first
    assert attrs(base) == ("root", "nogroup", "0o750")
    assert attrs(base / "a") == (
        "nobody",
        "nogroup",
        "0o2750",
    )  # a created parent gets the item's attributes
    assert attrs(base / "a/b") == ("nobody", "nogroup", "0o2750")
    again = run(spec)
    assert again["changed"] is False and again["changed_paths"] == [], again


@ROOT_ONLY
def test_corrects_drift_and_check_mode_touches_nothing(tmp_path):
    path = tmp_path / "d"
    path.mkdir()
    os.chmod(path, 0o705)  # drift: wrong mode, owner and group
    spec = {
        "directories": [{"path": str(path), "owner": "nobody", "group": "nogroup", "mode": "0750"}]
    }
    preview = run(spec, "--check", "--diff")
    assert preview["changed"] is True and preview["changed_paths"] == [str(path)]
    assert attrs(path) == ("root", "root", "0o705")
    missing = run(
        {"directories": [{"path": str(tmp_path / "new/deeper"), "mode": "0750"}]}, "--check"
    )
    assert missing["changed"] is True and not (tmp_path / "new").exists()
    fixed = run(spec)
    assert fixed["changed"] is True
    assert attrs(path) == ("nobody", "nogroup", "0o750")


def test_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "f").write_text("keep me\n")
    result = run({"directories": [{"path": str(tmp_path / "f"), "mode": "0750"}]})
    assert result.get("failed") is True
    assert "not a directory" in result["msg"]
    assert (tmp_path / "f").read_text() == "keep me\n"


def test_probe_reports_existence_and_where_links_resolve(tmp_path):
    release = tmp_path / "releases/r1"
    release.mkdir(parents=True)
    (tmp_path / "current").symlink_to(release)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    probe = [str(tmp_path / n) for n in ("current", "dangling", "releases/r1", "absent")]
    result = run({"probe": probe})
    assert result["changed"] is False
    assert result["exists"] == dict(zip(probe, [True, True, True, False], strict=True))
    assert result["links"] == {probe[0]: str(release), probe[1]: str(tmp_path / "gone")}


def test_files_report_what_a_template_or_copy_task_compares(tmp_path):
    written = tmp_path / "app.env"
    written.write_bytes(b'DEBUG="false"\n')
    os.chmod(written, 0o640)
    (tmp_path / "link").symlink_to(written)
    (tmp_path / "dir").mkdir()
    paths = [str(tmp_path / n) for n in ("app.env", "link", "dir", "absent")]
    result = run({"files": paths})
    assert result["changed"] is False
    me = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    assert result["files"] == {
        paths[0]: {
            "checksum": hashlib.sha1(b'DEBUG="false"\n').hexdigest(),  # noqa: S324
            "owner": me,
            "group": group,
            "mode": "0640",
        },
        # Only a regular file is reported: the task would replace anything else.
        paths[1]: {},
        paths[2]: {},
        paths[3]: {},
    }


def test_list_reports_entries_after_the_layout(tmp_path):
    releases = tmp_path / "releases"
    spec = {
        "directories": [{"path": str(releases / "r2"), "mode": "0750"}],
        "list": [str(releases), str(tmp_path / "absent")],
    }
    releases.mkdir()
    (releases / "r1").mkdir()
    (releases / "r1.tar.gz").write_bytes(b"")
    result = run(spec)
    listing = result["listings"][str(releases)]
    assert [(Path(e["path"]).name, e["isdir"]) for e in listing] == [
        ("r1", True),
        ("r1.tar.gz", False),
        ("r2", True),  # created by this run, listed after the layout
    ]
    assert all(isinstance(e["mtime"], float) for e in listing)
    assert result["listings"][str(tmp_path / "absent")] == []


def test_secret_files_are_compared_on_the_host_and_no_digest_is_shown(tmp_path):
    secret = tmp_path / "secrets.env"
    secret.write_bytes(b'SECRET_KEY="not-to-be-guessed"\n')
    os.chmod(secret, 0o640)
    right = hashlib.sha1(secret.read_bytes()).hexdigest()  # noqa: S324
    wrong = hashlib.sha1(b"something else").hexdigest()  # noqa: S324
    spec = {
        "secret_files": [
            {"path": str(secret), "checksum": right},
            {"path": str(tmp_path / "absent"), "checksum": wrong},
        ],
        "files": [str(secret)],  # the same file, asked openly, for contrast
    }
    report = ansible_json(
        "ansible", "localhost", "-c", "local", "-m", "ahsp.stack.directories",
        "-a", json.dumps(spec), "-vvv",
    )  # fmt: skip
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    state = result["files"][str(secret)]
    assert state["content_matches"] is True and "checksum" not in state
    assert state["mode"] == "0640"
    assert result["files"][str(tmp_path / "absent")] == {}
    # The expected checksums are a no_log option: not in the invocation, nowhere in the report.
    assert right not in json.dumps(report) and wrong not in json.dumps(report)
    secret.write_bytes(b'SECRET_KEY="changed"\n')
    again = run({"secret_files": [{"path": str(secret), "checksum": right}]})
    assert again["files"][str(secret)]["content_matches"] is False


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
