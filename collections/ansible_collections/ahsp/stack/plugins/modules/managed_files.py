#!/usr/bin/python
from __future__ import annotations

DOCUMENTATION = r"""
module: managed_files
short_description: The directories and files a role step writes, rendered on the controller, written where they differ
description:
  - The one way the roles write a file. A step lists the directories it lays out and its files (a template, a file of the role, or literal content,
    each with owner, group and mode); the action plugin renders them on the control machine, and one module run on
    the host compares each with what is there and writes only those that differ. A converged host costs one round
    trip for the whole step, however many files it has.
  - Directories come first, in the order given (a parent before its children). Missing ones are created with missing
    parents, each with the item's owner, group and mode; existing ones get them corrected. A path that exists and is
    not a directory is an error; nothing is replaced there.
  - A file is written to a temporary file next to it, given its owner, group and mode, checked by O(files[].validate)
    when given, and renamed over the old one, so a reader never sees half a file and a refused file never goes live.
  - A file marked O(files[].secret) is compared on the host only. Its content is a C(no_log) value, no checksum of it is
    returned and C(--diff) never shows it. Other files show their content change under C(--diff), as
    M(ansible.builtin.template) does.
  - Files are handled in the order given. When one fails validation, the ones before it are already written and the
    ones after it are left as they were.
options:
  secret_contents:
    description:
      - Where the action plugin puts the content of each O(files[].secret) file, by its O(files[].dest). Not for tasks
        to set.
      - A C(no_log) option of its own, so Ansible leaves the whole option out of the line a module writes to the
        host's journal. Inside the list of files a secret would be logged escaped, where Ansible's masking does not
        find it.
    type: dict
    default: {}
  directories:
    description: Directories, in order (a parent before its children), laid out before the files are written.
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
  files:
    description: The files, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file. Its directory must exist.
        type: path
        required: true
      template:
        description:
          - A template of the role (its C(templates/) directory), rendered on the control machine with the task's
            variables, as M(ansible.builtin.template) renders it.
          - Exactly one of O(files[].template), O(files[].src) and O(files[].content) unless O(files[].state=absent).
        type: str
      src:
        description: A file of the role (its C(files/) directory), written as it is.
        type: str
      content:
        description: The file's content.
        type: str
      secret:
        description: The content is a secret. It is compared on the host, never shown by C(--diff) or returned.
        type: bool
        default: false
      owner:
        description: Owner name.
        type: str
        default: root
      group:
        description: Group name.
        type: str
        default: root
      mode:
        description: Mode as an octal string (for example V("0640")).
        type: str
        default: "0644"
      validate:
        description:
          - A command run on the new content before it replaces the file; C(%s) is the temporary file's path. A
            non-zero exit refuses the file and leaves the old one in place.
          - Not run in check mode.
        type: str
      stage:
        description:
          - V(true) writes a file whose content differs to O(files[].dest) with C(.next) appended instead, and leaves
            the live file alone. The caller proves the staged file (for example by booting the release with it) and
            then renames it over the live one. RV(files) reports the staged path as C(staged). A file whose content
            is the same but whose owner, group or mode differ is corrected in place (nothing to prove).
          - C(--diff) compares the live file with the staged content.
        type: bool
        default: false
      replace:
        description:
          - V(false) writes the content only when the file is missing. An existing file keeps its content (a file
            its service rewrites, such as Sentinel's), and only its owner, group and mode are corrected.
        type: bool
        default: true
      state:
        description: V(present) writes the file; V(absent) removes it if it is there.
        type: str
        choices: [present, absent]
        default: present
attributes:
  check_mode:
    support: full
    description: Reports which files would be written or removed, and changes nothing.
  diff_mode:
    support: full
    description: Shows the content change of every file that is not secret, and owner, group and mode changes of all.
author: AHSP infrastructure team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: configure | Configuration files
  ahsp.stack.managed_files:
    directories:
      - {path: /var/lib/redis, owner: redis, group: redis, mode: "0750"}
    files:
      - dest: /usr/local/libexec/ahsp/redis-validate-config
        src: redis-validate-config
        mode: "0755"
      - dest: /etc/redis/redis.conf
        template: redis.conf.j2
        owner: redis
        group: redis
        mode: "0640"
        validate: /usr/local/libexec/ahsp/redis-validate-config %s
      - dest: /root/.redis-admin-password
        content: "{{ redis_admin_password }}"
        secret: true
        mode: "0600"
      - dest: /etc/redis/old.conf
        state: absent
  register: redis_files

- name: configure | Restart only when the unit's drop-in changed
  ansible.builtin.set_fact:
    redis_restart_needed: "{{ redis_files.files['/etc/systemd/system/redis-server.service.d/ahsp.conf'].changed }}"
"""

RETURN = r"""
directories:
  description: Per directory (by O(directories[].path)), whether it was created or corrected.
  returned: always
  type: dict
  sample: {"/var/lib/redis": {"changed": false}}
files:
  description: Per file (by O(files[].dest)), whether it was written, corrected or removed.
  returned: always
  type: dict
  sample: {"/etc/redis/redis.conf": {"changed": true, "content": true, "attributes": false},
           "/etc/ahsp/app.env": {"changed": true, "content": true, "attributes": false, "staged": "/etc/ahsp/app.env.next"}}
changed_paths:
  description: The directories created or corrected and the files written, corrected or removed, in order.
  returned: always
  type: list
  elements: str
  sample: ["/etc/redis/redis.conf"]
"""

import grp
import os
import pwd
import re
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


def _read(path: str) -> bytes | None:
    """The file's bytes, or None when there is no regular file at ``path``."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _ids(module: AnsibleModule, item: dict) -> tuple[int, int, int]:
    """The uid, gid and mode bits an item asks for; an unknown name fails the task.

    In check mode an owner or group the same run would create (a fresh
    host's app user) is not there yet: the file is reported as one that
    would change, with ids no file has (-1).
    """
    mode = int(str(item["mode"]), 8)
    try:
        return pwd.getpwnam(item["owner"]).pw_uid, grp.getgrnam(item["group"]).gr_gid, mode
    except KeyError as err:
        if module.check_mode:
            return -1, -1, mode
        module.fail_json(msg=f"{item['dest']}: owner or group not on this host: {err}")
        raise  # fail_json exits; for the type checker


def _attributes(path: str) -> tuple[int, int, int] | None:
    """The uid, gid and mode bits a path has (not following a link), or None when it is missing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def _validate(module: AnsibleModule, command: str, path: str, dest: str) -> None:
    """Run the item's validate command on the temporary file; a non-zero exit fails the task."""
    if "%s" not in command:
        module.fail_json(msg=f"{dest}: validate must contain %s (the file to check): {command}")
    argv = [path if word == "%s" else word.replace("%s", path) for word in shlex.split(command)]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(
            msg=f"{dest}: refused by {command.split()[0]} (exit {rc}); the file was not changed",
            stdout=out,
            stderr=err,
            rc=rc,
        )


def _write(module: AnsibleModule, item: dict, data: bytes, ids: tuple[int, int, int]) -> None:
    """Write ``data`` to a temporary file beside the destination, validate it, and rename it over the destination."""
    dest = item["dest"]
    folder = os.path.dirname(dest)
    if not os.path.isdir(folder):
        module.fail_json(msg=f"{dest}: its directory {folder} does not exist")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(dest)}.")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, data)
        os.fsync(handle)
        os.fchown(handle, ids[0], ids[1])
        os.fchmod(handle, ids[2])
        os.close(handle)
        handle = -1
        if item["validate"]:
            _validate(module, item["validate"], temp, dest)
        os.replace(temp, dest)
    finally:
        if handle >= 0:
            os.close(handle)
        if os.path.exists(temp):
            os.unlink(temp)


def _content_diff(item: dict, before: bytes | None, after: bytes) -> dict:
    """What --diff shows for a file whose content changes (never called for a secret one)."""
    return {
        "before_header": item["dest"],
        "after_header": item["dest"],
        "before": (before or b"").decode("utf-8", "replace"),
        "after": after.decode("utf-8", "replace"),
    }


def _attribute_diff(
    item: dict, before: tuple[int, int, int] | None, after: tuple[int, int, int]
) -> dict:
    """What --diff shows for a new file or changed owner, group or mode, as ansible.builtin.file shows it."""
    if before is None:
        return {
            "before": {"path": item["dest"], "state": "absent"},
            "after": {
                "path": item["dest"],
                "owner": item["owner"],
                "group": item["group"],
                "mode": item["mode"],
            },
        }
    old = {"owner": _user(before[0]), "group": _group(before[1]), "mode": f"{before[2]:04o}"}
    new = {"owner": item["owner"], "group": item["group"], "mode": f"{after[2]:04o}"}
    changed = [key for key in old if old[key] != new[key]]
    return {
        "before": {"path": item["dest"], **{key: old[key] for key in changed}},
        "after": {"path": item["dest"], **{key: new[key] for key in changed}},
    }


def _user(uid: int) -> str:
    """A user's name, or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    """A group's name, or the number when it has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _missing_chain(path: str) -> list[str]:
    """The path and its missing parents, outermost first."""
    chain = []
    while path and path != "/" and not os.path.lexists(path):
        chain.append(path)
        path = os.path.dirname(path)
    return list(reversed(chain))


def _directory(module: AnsibleModule, item: dict, diffs: list[dict]) -> dict:
    """Create a directory (and missing parents) or correct its owner, group and mode, with Ansible's file helpers."""
    path = item["path"]
    if not os.path.isabs(path):
        module.fail_json(msg=f"{path}: not an absolute path")
    if os.path.lexists(path) and not os.path.isdir(path):
        module.fail_json(msg=f"{path}: exists and is not a directory; nothing was changed there")
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
    if module.check_mode and created:
        return {"changed": True}
    # Parents created here get the item's attributes too, as the file module does.
    for new in created[:-1]:
        module.set_fs_attributes_if_different(
            module.load_file_common_arguments(item, path=new), False, None
        )
    args = module.load_file_common_arguments(
        {"owner": item["owner"], "group": item["group"], "mode": item["mode"]}, path=path
    )
    diff = {"before": {"path": path}, "after": {"path": path}}
    changed = module.set_fs_attributes_if_different(args, bool(created), diff) or bool(created)
    if changed and (len(diff["before"]) > 1 or len(diff["after"]) > 1):
        diffs.append(diff)
    return {"changed": changed}


def _present(module: AnsibleModule, item: dict, diffs: list[dict]) -> dict:
    """Bring one file to its content, owner, group and mode; report what differed."""
    dest = item["dest"]
    secret = module.params["secret_contents"].get(dest) if item["secret"] else None
    data = (secret if item["secret"] else item["content"] or "").encode("utf-8")
    ids = _ids(module, item)
    if os.path.islink(dest) or (os.path.lexists(dest) and not os.path.isfile(dest)):
        module.fail_json(msg=f"{dest}: exists and is not a regular file; nothing was changed there")
    before = _read(dest)
    attributes = _attributes(dest)
    content_differs = before != data and (before is None or item["replace"])
    attributes_differ = attributes != ids
    if module._diff and (content_differs or attributes_differ):
        if content_differs and not item["secret"]:
            diffs.append(_content_diff(item, before, data))
        if attributes_differ:
            diffs.append(_attribute_diff(item, attributes, ids))
    # Only new content needs proving: owner, group or mode are put right in place.
    staged = item["stage"] and content_differs
    if not module.check_mode:
        if staged:
            _write(module, {**item, "dest": dest + ".next"}, data, ids)
        elif content_differs:
            _write(module, item, data, ids)
        elif attributes_differ:
            os.chown(dest, ids[0], ids[1], follow_symlinks=False)
            os.chmod(dest, ids[2])
    result = {
        "changed": content_differs or attributes_differ,
        "content": content_differs,
        "attributes": attributes_differ,
    }
    if staged:
        result["staged"] = dest + ".next"
    return result


def _absent(module: AnsibleModule, item: dict, diffs: list[dict]) -> dict:
    """Remove one file if it is there."""
    dest = item["dest"]
    there = os.path.lexists(dest)
    if there and os.path.isdir(dest) and not os.path.islink(dest):
        module.fail_json(msg=f"{dest}: is a directory; managed_files removes files only")
    if there:
        if module._diff:
            diffs.append(
                {
                    "before": {"path": dest, "state": "file"},
                    "after": {"path": dest, "state": "absent"},
                }
            )
        if not module.check_mode:
            os.unlink(dest)
    return {"changed": there, "content": there, "attributes": False}


ARGUMENT_SPEC = {
    "secret_contents": {"type": "dict", "default": {}, "no_log": True},
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
    "files": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "dest": {"type": "path", "required": True},
            "template": {"type": "str"},
            "src": {"type": "str"},
            "content": {"type": "str"},
            "secret": {"type": "bool", "default": False},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "mode": {"type": "str", "default": "0644"},
            "validate": {"type": "str"},
            "replace": {"type": "bool", "default": True},
            "stage": {"type": "bool", "default": False},
            "state": {
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
        },
    },
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    for item in [*module.params["directories"], *module.params["files"]]:
        if re.fullmatch("[0-7]{3,4}", str(item["mode"])) is None:
            module.fail_json(
                msg=f"{item.get('path') or item.get('dest')}: mode must be an octal string such as 0640"
            )
    diffs: list[dict] = []
    folders = {
        item["path"]: _directory(module, item, diffs) for item in module.params["directories"]
    }
    results: dict[str, dict] = {}
    for item in module.params["files"]:
        if item["template"] is not None or item["src"] is not None:
            module.fail_json(
                msg=f"{item['dest']}: template and src are rendered by the action plugin, not the module"
            )
        if not os.path.isabs(item["dest"]):
            module.fail_json(msg=f"{item['dest']}: not an absolute path")
        step = _present if item["state"] == "present" else _absent
        results[item["dest"]] = step(module, item, diffs)
    changed_paths = [
        path for path, result in [*folders.items(), *results.items()] if result["changed"]
    ]
    # Ansible shows `diff` only under --diff.
    module.exit_json(
        changed=bool(changed_paths),
        changed_paths=changed_paths,
        directories=folders,
        files=results,
        diff=diffs,
    )


if __name__ == "__main__":
    main()
