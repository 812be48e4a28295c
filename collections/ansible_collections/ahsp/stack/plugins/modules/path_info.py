#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: path_info
short_description: What a role step needs to know about paths on the host, in one module run
description:
  - Reports, and changes nothing. For O(probe), whether each path exists and where each link points; for O(list), the
    entries of directories, as M(ansible.builtin.find) would list them; for O(trees), whether a directory holds a tar
    archive's members as M(ansible.builtin.unarchive) with C(owner) and C(group) leaves them, so that a role can skip
    unpacking a release that is already in place.
  - One module run answers what would otherwise be one M(ansible.builtin.stat) or M(ansible.builtin.find) per path.
options:
  probe:
    description: Paths to report on (RV(exists) and RV(links)).
    type: list
    elements: path
    default: []
  list:
    description: Directories whose entries to report (RV(listings)).
    type: list
    elements: path
    default: []
  trees:
    description:
      - Unpacked archives to compare with their archive (RV(trees)).
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
    description: Changes nothing in any mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Probe the venv, the release and the live links
  ahsp.stack.path_info:
    probe:
      - /srv/ahsp/venvs/0c1d2e3f-py3.11/.ahsp-installed
      - /srv/ahsp/current
      - /srv/ahsp/previous
    # What a prune step chooses from.
    list: [/srv/ahsp/releases]
    # Is the release unpacked as ansible.builtin.unarchive would leave it?
    trees:
      - {archive: /srv/ahsp/releases/3f9c2a1e.tar.gz, dest: /srv/ahsp/releases/3f9c2a1e, group: ahsp}
  register: layout

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
import os
import pwd
import stat
import tarfile

from ansible.module_utils.basic import AnsibleModule


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
    """Whether the file holds exactly ``expected``."""
    with open(path, "rb") as handle:
        return handle.read(len(expected) + 1) == expected


def _member_matches(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str, ids: tuple) -> bool:
    """Whether one archive member is in place as unarchive leaves it."""
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
            "probe": {"type": "list", "elements": "path", "default": []},
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
    probed = module.params["probe"]
    module.exit_json(
        changed=False,
        exists={path: os.path.lexists(path) for path in probed},
        links={path: os.path.realpath(path) for path in probed if os.path.islink(path)},
        listings={path: _listing(path) for path in module.params["list"]},
        trees={
            item["dest"]: _tree_matches(item["archive"], item["dest"], item["owner"], item["group"])
            for item in module.params["trees"]
        },
    )


if __name__ == "__main__":
    main()
