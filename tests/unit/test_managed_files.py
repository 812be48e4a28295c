"""ahsp.stack.managed_files on this machine's file system, run by Ansible itself.

The one way the roles write files: directories laid out as the file module's
loop did (parents, owner, group, mode, setgid), then files rendered on the
controller (a role's template, a role's file, literal content) and written by
one module run only where they differ, atomically, validated before they go
live, a secret never shown. Directory cases run `ansible localhost -m ...`;
file cases run a playbook with a throwaway role in tmp_path, connection local.
Files default to this user's owner and group; cases that hand files to
another user need root.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest
from ansible_json import ROOT, ansible_json, local_module

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners: needs root")
ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name

TEMPLATE = "# {{ greeting }}\n{% for name in names %}\nserver {{ name }}\n{% endfor %}\n"
RENDERED = "# hello\nserver a\nserver b\n"
SCRIPT = "#!/bin/sh\necho '{{ not templated }}'\n"
PLAY_VARS = {"greeting": "hello", "names": ["a", "b"], "secret_value": "s3cret-NEW-7f3e9a"}
OLD_SECRET = "s3cret-OLD-41c2d8"


# --- helpers -----------------------------------------------------------------


def module(args: dict, *flags: str) -> dict:
    """One ad-hoc module run (action plugin included); the host's JSON result."""
    return local_module("ahsp.stack.managed_files", args, *flags)


def _item(item: dict) -> dict:
    return {"owner": ME, "group": MY_GROUP, **item}


def playbook(tmp_path: Path, files: list[dict]) -> Path:
    """A playbook (connection local) whose role `r` has one managed_files task.

    The role has templates/app.conf.j2 and files/script.sh; the play's vars
    feed the template and `secret_value`.
    """
    role = tmp_path / "roles" / "r"
    for sub in ("templates", "files", "tasks"):
        (role / sub).mkdir(parents=True, exist_ok=True)
    (role / "templates" / "app.conf.j2").write_text(TEMPLATE)
    (role / "files" / "script.sh").write_text(SCRIPT)
    task = {"name": "managed", "ahsp.stack.managed_files": {"files": [_item(f) for f in files]}}
    (role / "tasks" / "main.yml").write_text(json.dumps([task]))
    play = {"hosts": "localhost", "connection": "local", "gather_facts": False}
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{**play, "vars": PLAY_VARS, "roles": ["r"]}]))
    return path


def play(tmp_path: Path, files: list[dict], *flags: str) -> dict:
    """Run the playbook; the managed_files task's JSON result."""
    report = ansible_json("ansible-playbook", str(playbook(tmp_path, files)), *flags)
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


def play_text(tmp_path: Path, files: list[dict], *flags: str) -> str:
    """Run the playbook with the default (human) callback; all it printed."""
    proc = subprocess.run(
        ["ansible-playbook", str(playbook(tmp_path, files)), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    return proc.stdout + proc.stderr


def attrs(path: Path) -> tuple[str, str, str]:
    st = path.stat()
    return (
        pwd.getpwuid(st.st_uid).pw_name,
        grp.getgrgid(st.st_gid).gr_name,
        oct(stat.S_IMODE(st.st_mode)),
    )


def stamps(*paths: Path) -> list[tuple[int, int]]:
    """Inode and mtime: a rewrite (temp file + rename) changes both."""
    return [(p.stat().st_ino, p.stat().st_mtime_ns) for p in paths]


def existing(path: Path, data: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    path.chmod(mode)
    return path


# --- directories ---------------------------------------------------------------


@ROOT_ONLY
def test_directories_created_with_parents_then_nothing_changes(tmp_path):
    base = tmp_path / "srv"
    spec = {
        "directories": [
            {"path": str(base), "group": "nogroup", "mode": "0750"},
            {"path": str(base / "a/b"), "owner": "nobody", "group": "nogroup", "mode": "2750"},
        ],
        # Directories come first: a file may live in one this run creates.
        "files": [{"dest": str(base / "a/b/f"), "content": "x\n"}],
    }
    first = module(spec)
    assert first["changed"] is True, first
    assert attrs(base) == ("root", "nogroup", "0o750")
    # A created parent gets the item's attributes.
    assert attrs(base / "a") == ("nobody", "nogroup", "0o2750")
    assert attrs(base / "a/b") == ("nobody", "nogroup", "0o2750")
    assert (base / "a/b/f").read_text() == "x\n"
    again = module(spec)
    assert again["changed"] is False and again["changed_paths"] == [], again


@ROOT_ONLY
def test_directories_drift_corrected_and_check_mode_touches_nothing(tmp_path):
    path = tmp_path / "d"
    path.mkdir()
    os.chmod(path, 0o705)  # drift: wrong mode (setgid missing), owner and group
    spec = {
        "directories": [{"path": str(path), "owner": "nobody", "group": "nogroup", "mode": "2750"}]
    }
    preview = module(spec, "--check", "--diff")
    assert preview["changed"] is True and preview["changed_paths"] == [str(path)]
    assert attrs(path) == ("root", "root", "0o705")
    missing = module(
        {"directories": [{"path": str(tmp_path / "new/deeper"), "mode": "0750"}]}, "--check"
    )
    assert missing["changed"] is True and not (tmp_path / "new").exists()
    fixed = module(spec)
    assert fixed["changed"] is True and fixed["directories"] == {str(path): {"changed": True}}
    assert attrs(path) == ("nobody", "nogroup", "0o2750")


def test_directories_refuse_a_file_in_the_way(tmp_path):
    existing(tmp_path / "f", "keep me\n")
    result = module({"directories": [_item({"path": str(tmp_path / "f"), "mode": "0750"})]})
    assert result.get("failed") is True
    assert "not a directory" in result["msg"] and str(tmp_path / "f") in result["msg"]
    assert (tmp_path / "f").read_text() == "keep me\n"


# --- files: writing, idempotence, drift ------------------------------------------


def _three(out: Path, owner: str = ME) -> list[dict]:
    """A template, a role file and literal content, with distinct attributes."""
    return [
        {"dest": str(out / "app.conf"), "template": "app.conf.j2", "owner": owner, "mode": "0640"},
        {"dest": str(out / "script.sh"), "src": "script.sh", "mode": "0750"},
        {"dest": str(out / "plain"), "content": "{{ greeting }} world\n", "mode": "0600"},
    ]


@ROOT_ONLY
def test_template_src_and_content_written_then_a_second_run_changes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    files = _three(out, owner="nobody")
    first = play(tmp_path, files)
    assert first["changed"] is True and first["changed_paths"] == [f["dest"] for f in files]
    assert (out / "app.conf").read_text() == RENDERED
    assert (out / "script.sh").read_text() == SCRIPT  # a role file is not templated
    assert (out / "plain").read_text() == "hello world\n"
    assert attrs(out / "app.conf") == ("nobody", MY_GROUP, "0o640")
    assert attrs(out / "script.sh") == (ME, MY_GROUP, "0o750")
    assert attrs(out / "plain") == (ME, MY_GROUP, "0o600")
    before = stamps(*(Path(f["dest"]) for f in files))
    again = play(tmp_path, files)
    assert again["changed"] is False and again["changed_paths"] == [], again
    assert stamps(*(Path(f["dest"]) for f in files)) == before


@ROOT_ONLY
def test_drift_in_content_mode_or_owner_is_repaired_and_reported_per_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    files = _three(out)
    play(tmp_path, files)
    (out / "app.conf").write_text("# edited by hand\n")  # content only
    (out / "script.sh").chmod(0o755)  # mode only
    os.chown(out / "plain", pwd.getpwnam("nobody").pw_uid, -1)  # owner only
    result = play(tmp_path, files)
    assert result["changed"] is True
    assert result["files"] == {
        str(out / "app.conf"): {"changed": True, "content": True, "attributes": False},
        str(out / "script.sh"): {"changed": True, "content": False, "attributes": True},
        str(out / "plain"): {"changed": True, "content": False, "attributes": True},
    }
    assert (out / "app.conf").read_text() == RENDERED
    assert attrs(out / "script.sh") == (ME, MY_GROUP, "0o750")
    assert attrs(out / "plain") == (ME, MY_GROUP, "0o600")


def test_a_role_file_is_written_byte_for_byte(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    playbook(tmp_path, [])
    (tmp_path / "roles/r/files/crlf.txt").write_bytes(b"a\r\nb\r\n")
    play(tmp_path, [{"dest": str(out / "crlf.txt"), "src": "crlf.txt"}])
    assert (out / "crlf.txt").read_bytes() == b"a\r\nb\r\n"


def test_a_mode_given_as_a_yaml_integer_is_never_misread(tmp_path):
    dest = tmp_path / "f"
    # `mode: 0640` unquoted in a task is the integer 416 (YAML 1.1 octal).
    result = play(tmp_path, [{"dest": str(dest), "content": "x\n", "mode": 0o640}])
    assert result.get("failed") and "quoted octal string" in result["msg"], result
    assert not dest.exists()


# --- secret files and --diff -----------------------------------------------------


def _secret_and_plain(out: Path) -> list[dict]:
    existing(out / "secret.env", f"KEY={OLD_SECRET}\n", 0o600)
    existing(out / "plain.conf", "plain v1\n")
    return [
        {"dest": str(out / "secret.env"), "content": "KEY={{ secret_value }}\n", "secret": True},
        {"dest": str(out / "plain.conf"), "content": "plain v2\n"},
    ]


def test_a_secret_never_shows_while_a_plain_change_shows_in_diff(tmp_path):
    out = tmp_path / "out"
    text = play_text(tmp_path, _secret_and_plain(out), "--diff", "-vvv")
    assert "changed=1" in text, text[-3000:]
    assert "+plain v2" in text and "-plain v1" in text  # the plain file's diff
    assert PLAY_VARS["secret_value"] not in text and OLD_SECRET not in text
    assert (out / "secret.env").read_text() == f"KEY={PLAY_VARS['secret_value']}\n"
    # The JSON report of a changing run (diff included) shows no secret either.
    result = play(tmp_path, _secret_and_plain(out), "--diff")
    assert result["files"][str(out / "secret.env")]["content"] is True
    assert "plain v2" in json.dumps(result["diff"])
    dumped = json.dumps(result)
    assert PLAY_VARS["secret_value"] not in dumped and OLD_SECRET not in dumped


# --- validate, check mode, stage, replace, state ----------------------------------


def test_a_failing_validate_leaves_the_old_file_and_no_temp_file(tmp_path):
    dest = existing(tmp_path / "out" / "app.conf", "valid old\n")
    item = {"dest": str(dest), "validate": "grep -q ^valid %s"}
    result = play(tmp_path, [{**item, "content": "broken\n"}])
    assert result.get("failed") is True and str(dest) in result["msg"], result
    assert dest.read_bytes() == b"valid old\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["app.conf"]  # no .app.conf.*
    passed = play(tmp_path, [{**item, "content": "valid new\n"}])
    assert passed["changed"] is True and dest.read_text() == "valid new\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["app.conf"]


def test_check_mode_writes_nothing_and_reports_changed(tmp_path):
    out = tmp_path / "out"
    old = existing(out / "old", "old\n", 0o600)
    files = [
        {"dest": str(old), "content": "new\n", "mode": "0644"},
        {"dest": str(out / "new"), "template": "app.conf.j2"},
    ]
    result = play(tmp_path, files, "--check")
    assert result["changed"] is True and result["changed_paths"] == [f["dest"] for f in files]
    assert old.read_text() == "old\n" and stat.S_IMODE(old.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["old"]


def test_stage_writes_dest_next_and_leaves_the_live_file(tmp_path):
    dest = existing(tmp_path / "out" / "app.env", "live\n")
    staged = play(tmp_path, [{"dest": str(dest), "content": "next\n", "stage": True}])
    assert staged["changed"] is True
    assert staged["files"][str(dest)]["staged"] == f"{dest}.next"
    assert dest.read_text() == "live\n"
    assert Path(f"{dest}.next").read_text() == "next\n"
    Path(f"{dest}.next").unlink()
    same = play(tmp_path, [{"dest": str(dest), "content": "live\n", "stage": True}])
    assert same["changed"] is False and "staged" not in same["files"][str(dest)], same
    assert not Path(f"{dest}.next").exists()


def test_stage_corrects_a_mode_in_place_when_the_content_is_the_same(tmp_path):
    """Nothing new to prove: the live file keeps its content and time, and gets its mode back."""
    dest = existing(tmp_path / "out" / "app.env", "live\n", 0o644)
    mtime = dest.stat().st_mtime_ns
    fixed = play(
        tmp_path, [{"dest": str(dest), "content": "live\n", "stage": True, "mode": "0640"}]
    )
    assert fixed["files"][str(dest)] == {"changed": True, "content": False, "attributes": True}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert dest.stat().st_mtime_ns == mtime
    assert not Path(f"{dest}.next").exists()


def test_replace_false_writes_a_missing_file_and_keeps_an_existing_ones_content(tmp_path):
    out = tmp_path / "out"
    kept = existing(out / "sentinel.conf", "rewritten by the service\n", 0o600)
    files = [
        {"dest": str(kept), "content": "initial\n", "replace": False, "mode": "0640"},
        {"dest": str(out / "new.conf"), "content": "initial\n", "replace": False},
    ]
    result = play(tmp_path, files)
    assert result["files"][str(kept)] == {"changed": True, "content": False, "attributes": True}
    assert kept.read_text() == "rewritten by the service\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert (out / "new.conf").read_text() == "initial\n"


def test_state_absent_removes_a_file_and_refuses_a_directory(tmp_path):
    gone = existing(tmp_path / "out" / "old.conf", "old\n")
    absent = [{"dest": str(gone), "state": "absent"}]
    removed = play(tmp_path, absent)
    assert removed["changed"] is True and not gone.exists()
    again = play(tmp_path, absent)
    assert again["changed"] is False and again["files"][str(gone)]["changed"] is False
    (tmp_path / "out" / "dir").mkdir()
    refused = module({"files": [{"dest": str(tmp_path / "out/dir"), "state": "absent"}]})
    assert refused.get("failed") is True and "is a directory" in refused["msg"]
    assert (tmp_path / "out" / "dir").is_dir()


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("sources", [{}, {"content": "a\n", "src": "script.sh"}])
def test_exactly_one_of_template_src_and_content(tmp_path, sources):
    dest = tmp_path / "f"
    result = play(tmp_path, [{"dest": str(dest), **sources}])
    assert result.get("failed") is True
    assert "exactly one of template, src and content" in result["msg"], result
    assert not dest.exists()


def test_a_missing_directory_fails_naming_it(tmp_path):
    folder = tmp_path / "missing"
    result = module({"files": [_item({"dest": str(folder / "f"), "content": "x\n"})]})
    assert result.get("failed") is True
    assert f"{folder} does not exist" in result["msg"], result
