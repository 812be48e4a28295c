#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: directories
short_description: Several directories with their owner, group and mode in one module run; stat of other paths and files
description:
  - What a loop of M(ansible.builtin.file) with C(state=directory) does, in one module execution instead of one per
    item (a role's layout of eight directories costs one round trip to the host instead of eight). Missing
    directories are created, with missing parents, each with the item's owner, group and mode; existing ones get
    them corrected. The attributes are set by Ansible's own file helpers, so check mode and C(--diff) report what
    M(ansible.builtin.file) would.
  - Also reports, for I(probe), whether each path exists and where each link points, so the task that lays out the
    tree also answers what the next tasks need to know about it.
  - Also reports, for I(files), each file's SHA-1 checksum, owner, group and mode, so that a role can skip the
    template or copy tasks whose file is already as they would write it (the C(ahsp.stack.file_differs) filter
    compares), and, for I(list), the entries of directories, as M(ansible.builtin.find) would list them.
  - A file that holds secrets goes in I(secret_files) with the checksum it should have; the module compares on the
    host and reports only whether the content matches, so no digest of a secret reaches the output (the expected
    checksums are a C(no_log) option).
  - Also reports, for I(trees), whether a directory holds a tar archive's members as M(ansible.builtin.unarchive)
    with C(owner) and C(group) leaves them, so that a role can skip unpacking a release that is already in place.
  - A path that exists and is not a directory is an error; nothing is replaced.
options:
  directories:
    description: Directories, in order (a parent before its children).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      mode:
        description: Mode as an octal string (for example V("0750") or V("2750")).
        type: str
        required: true
  probe:
    description: Paths to report on (RV(exists) and RV(links)); nothing is changed there.
    type: list
    elements: path
    default: []
  files:
    description: Files to report on (RV(files)), with checksum, owner, group and mode; nothing is changed there.
    type: list
    elements: path
    default: []
  secret_files:
    description:
      - Files that hold secrets, reported in RV(files) with C(content_matches) instead of a checksum.
      - The list itself is no secret; the expected checksums in it are never logged.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      checksum:
        description: SHA-1 the content should have (never logged or returned).
        type: str
        required: true
  list:
    description: Directories whose entries to report (RV(listings)), read after the O(directories) are laid out.
    type: list
    elements: path
    default: []
  trees:
    description:
      - Unpacked archives to compare with their archive (RV(trees)); nothing is changed there.
      - A tree matches when every member of the archive is in O(trees[].dest) with its type, permission bits and, for
        a regular file, its size, modification time and content, and everything is owned by O(trees[].owner) and
        O(trees[].group). Entries that are not in the archive are ignored, as M(ansible.builtin.unarchive) ignores
        them.
    type: list
    elements: dict
    default: []
    suboptions:
      archive:
        description: Path of the archive on the host (C(.tar.gz)).
        type: path
        required: true
      dest:
        description: Directory the archive is unpacked into.
        type: path
        required: true
      owner:
        description: Owner of every member.
        type: str
        default: root
      group:
        description: Group of every member.
        type: str
        default: root
attributes:
  check_mode:
    support: full
    description: Reports the directories it would create or correct, and changes nothing.
  diff_mode:
    support: full
    description: Shows each directory created and each owner, group or mode corrected, as M(ansible.builtin.file) does.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Directories, and probe the venv, the release and the live links
  ahsp.stack.directories:
    directories:
      - {path: /srv/ahsp, group: ahsp, mode: "0750"}
      - {path: /srv/ahsp/releases, group: ahsp, mode: "0750"}
      - {path: /srv/ahsp/shared, owner: ahsp, group: ahsp, mode: "0750"}
      - {path: /srv/ahsp/releases/3f9c2a1e, group: ahsp, mode: "0750"}
    probe:
      - /srv/ahsp/releases/3f9c2a1e/manage.py
      - /srv/ahsp/current
      - /srv/ahsp/previous
    # The files later tasks write: each runs only when its file differs.
    files:
      - /etc/ahsp/app.env
    secret_files:
      - path: /etc/ahsp/secrets.env
        checksum: "{{ lookup('ansible.builtin.template', 'secrets.env.j2') | ansible.builtin.hash('sha1') }}"
    # What a prune step chooses from.
    list: [/srv/ahsp/releases]
    # Is the release unpacked as ansible.builtin.unarchive would leave it?
    trees:
      - {archive: /srv/ahsp/releases/3f9c2a1e.tar.gz, dest: /srv/ahsp/releases/3f9c2a1e, group: ahsp}
  register: layout

- name: Write app.env only when content, owner, group or mode differ
  ansible.builtin.template:
    src: app.env.j2
    dest: /etc/ahsp/app.env
    owner: root
    group: ahsp
    mode: "0640"
  when: >-
    layout.files['/etc/ahsp/app.env'] | ahsp.stack.file_differs(content=lookup('ansible.builtin.template', 'app.env.j2'),
    owner='root', group='ahsp', mode='0640')

- name: Unpack the release unless it is in place already
  ansible.builtin.unarchive:
    src: /srv/ahsp/releases/3f9c2a1e.tar.gz
    dest: /srv/ahsp/releases/3f9c2a1e
    remote_src: true
    owner: root
    group: ahsp
  when: not layout.trees['/srv/ahsp/releases/3f9c2a1e']
"""

RETURN = r"""
changed_paths:
  description: Directories created or corrected (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [/srv/ahsp/releases/3f9c2a1e]
exists:
  description: For each O(probe) path, whether it exists (a dangling link counts).
  returned: always
  type: dict
  sample: {/srv/ahsp/current: true, /srv/ahsp/previous: false}
links:
  description:
    - For each O(probe) path that is a link, the real path it resolves to (as M(ansible.builtin.stat)'s
      C(lnk_source)); absent for other paths.
  returned: always
  type: dict
  sample: {/srv/ahsp/current: /srv/ahsp/releases/9b41d07c}
files:
  description:
    - For each O(files) path, C(checksum) (SHA-1 of the content, as M(ansible.builtin.stat) reports it), C(owner),
      C(group) and C(mode) (octal string, for example V("0640")) of a regular file; an empty dict when the path is
      missing or not a regular file (a link is not followed).
    - For each O(secret_files) path, the same with C(content_matches) (a bool) in place of C(checksum).
  returned: always
  type: dict
  sample:
    /etc/ahsp/app.env: {checksum: 0a4d55a8d778e5022fab701977c5d840bbc486d0, owner: root, group: ahsp, mode: "0640"}
    /etc/ahsp/secrets.env: {content_matches: true, owner: root, group: ahsp, mode: "0640"}
trees:
  description: For each O(trees) item, keyed by its O(trees[].dest), whether the tree matches its archive (false when
    either is missing).
  returned: always
  type: dict
  sample: {/srv/ahsp/releases/3f9c2a1e: true}
listings:
  description:
    - For each O(list) directory, its entries sorted by path, each with C(path), C(isdir) and C(mtime) (as
      M(ansible.builtin.find) reports them); an empty list when the directory is missing.
  returned: always
  type: dict
  sample:
    /srv/ahsp/releases:
      - {path: /srv/ahsp/releases/3f9c2a1e, isdir: true, mtime: 1714550400.0}
      - {path: /srv/ahsp/releases/3f9c2a1e.tar.gz, isdir: false, mtime: 1714550399.0}
"""

import grp
import hashlib
import os
import pwd
import stat
import tarfile

from ansible.module_utils.basic import AnsibleModule


def _missing_chain(path: str) -> list[str]:
    """The path and its missing parents, outermost first."""
    chain = []
    while path and path != "/" and not os.path.lexists(path):
        chain.append(path)
        path = os.path.dirname(path)
    return list(reversed(chain))


def _name(lookup, ident: int) -> str:
    """A user or group name, or the number when the id has no name."""
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def _file_state(path: str) -> dict:
    """What a template or copy task compares: content checksum, owner, group, mode ({} when not a file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(st.st_mode):
        return {}
    digest = hashlib.sha1()  # noqa: S324 - Ansible's own file checksum
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return {
        "checksum": digest.hexdigest(),
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
    }


def _listing(path: str) -> list[dict]:
    """Entries of a directory as ansible.builtin.find (file_type=any) reports them."""
    if not os.path.isdir(path):
        return []
    entries = []
    with os.scandir(path) as found:
        for entry in found:
            st = entry.stat(follow_symlinks=False)
            entries.append(
                {
                    "path": entry.path,
                    "isdir": stat.S_ISDIR(st.st_mode),
                    "mtime": st.st_mtime,
                }
            )
    return sorted(entries, key=lambda e: e["path"])


def _same_content(path: str, expected: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(expected) + 1) == expected


def _member_matches(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str, ids: tuple) -> bool:
    name = os.path.normpath(member.name)
    if name.startswith(("/", "..")):
        return False
    path = os.path.join(dest, name)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if (st.st_uid, st.st_gid) != ids or stat.S_IMODE(st.st_mode) != member.mode & 0o7777:
        return False
    if member.isdir():
        return stat.S_ISDIR(st.st_mode)
    if not (member.isreg() and stat.S_ISREG(st.st_mode)):
        return False
    if st.st_size != member.size or int(st.st_mtime) != member.mtime:
        return False
    content = tar.extractfile(member)
    return content is not None and _same_content(path, content.read())


def _tree_matches(archive: str, dest: str, owner: str, group: str) -> bool:
    """Whether unpacking ``archive`` into ``dest`` (then setting owner and group) would change nothing."""
    try:
        ids = (pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
        with tarfile.open(archive, "r:gz") as tar:
            return all(_member_matches(tar, member, dest, ids) for member in tar)
    except (KeyError, OSError, EOFError, tarfile.TarError):
        return False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "str", "required": True},
                },
            },
            "probe": {"type": "list", "elements": "path", "default": []},
            "files": {"type": "list", "elements": "path", "default": []},
            "secret_files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "no_log": False,
                "options": {
                    "path": {"type": "path", "required": True},
                    "checksum": {"type": "str", "required": True, "no_log": True},
                },
            },
            "list": {"type": "list", "elements": "path", "default": []},
            "trees": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "archive": {"type": "path", "required": True},
                    "dest": {"type": "path", "required": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                },
            },
        },
        supports_check_mode=True,
    )
    changed_paths: list[str] = []
    diffs: list[dict] = []
    for item in module.params["directories"]:
        path = item["path"]
        if not os.path.isabs(path):
            module.fail_json(msg=f"{path}: not an absolute path")
        if os.path.lexists(path) and not os.path.isdir(path):
            module.fail_json(
                msg=f"{path}: exists and is not a directory; nothing was changed there"
            )
        created = _missing_chain(path)
        for new in created:
            diffs.append(
                {
                    "before": {"path": new, "state": "absent"},
                    "after": {"path": new, "state": "directory"},
                }
            )
            if not module.check_mode:
                os.mkdir(new, 0o700)
        args = module.load_file_common_arguments(
            {"owner": item["owner"], "group": item["group"], "mode": item["mode"]}, path=path
        )
        changed = bool(created)
        if module.check_mode and created:
            changed_paths.append(path)
            continue
        # Parents created here get the item's attributes too, as the file module does.
        for new in created[:-1]:
            module.set_fs_attributes_if_different(
                module.load_file_common_arguments(item, path=new), False, None
            )
        diff = {"before": {"path": path}, "after": {"path": path}}
        changed = module.set_fs_attributes_if_different(args, changed, diff) or changed
        if changed:
            changed_paths.append(path)
            if len(diff["before"]) > 1 or len(diff["after"]) > 1:
                diffs.append(diff)
    exists = {}
    links = {}
    for path in module.params["probe"]:
        exists[path] = os.path.lexists(path)
        if os.path.islink(path):
            links[path] = os.path.realpath(path)
    files = {path: _file_state(path) for path in module.params["files"]}
    for item in module.params["secret_files"]:
        state = _file_state(item["path"])
        if state:
            state["content_matches"] = state.pop("checksum") == item["checksum"].lower()
        files[item["path"]] = state
    listings = {path: _listing(path) for path in module.params["list"]}
    trees = {
        item["dest"]: _tree_matches(item["archive"], item["dest"], item["owner"], item["group"])
        for item in module.params["trees"]
    }
    # Ansible shows `diff` only under --diff.
    module.exit_json(
        changed=bool(changed_paths),
        changed_paths=changed_paths,
        exists=exists,
        links=links,
        files=files,
        listings=listings,
        trees=trees,
        diff=diffs,
    )


if __name__ == "__main__":
    main()
