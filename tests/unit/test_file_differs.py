"""ahsp.stack.file_differs with what Ansible itself writes.

The roles skip a template or copy task when the file on the host is already
what the task would write. That is only safe if the controller's rendering
(the template lookup) gives the very bytes the template module writes, and
the filter sees every kind of drift. Both are checked here with Ansible's own
modules on this machine: the template module writes a file, the directories
module probes it, and the filter must say "differs" for nothing else than a
changed content, owner, group or mode.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ahsp.stack.plugins.filter.files import file_differs
from ansible_json import ansible_json

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = """{{ ansible_managed | comment }}
# Non-ASCII and quotes: café "x" 'y'
{% for name, value in values.items() %}
{{ name }}={{ value | ahsp.stack.env_value }}
{% endfor %}
{% if extra %}
EXTRA=1
{% endif %}
last line without a block

"""

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    values: {DEBUG: false, NAME: "a b", PATH_LIST: "/x:/y"}
    extra: true
  tasks:
    - name: Write it as a role would
      ansible.builtin.template:
        src: "{{ dir }}/t.j2"
        dest: "{{ dir }}/out"
        mode: "0640"
    - name: Probe it
      ahsp.stack.directories:
        files: ["{{ dir }}/out"]
      register: probe
    - name: What the filter says
      ansible.builtin.debug:
        msg:
          same: >-
            {{ probe.files[dir ~ '/out'] | ahsp.stack.file_differs(
            content=lookup('ansible.builtin.template', dir ~ '/t.j2'),
            owner=owner, group=group, mode='0640') }}
          other_mode: >-
            {{ probe.files[dir ~ '/out'] | ahsp.stack.file_differs(
            content=lookup('ansible.builtin.template', dir ~ '/t.j2'),
            owner=owner, group=group, mode='0644') }}
"""


def test_the_template_lookup_renders_the_bytes_the_template_module_writes(tmp_path):
    (tmp_path / "t.j2").write_text(TEMPLATE)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    owner = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    report = ansible_json(
        "ansible-playbook",
        str(tmp_path / "play.yml"),
        "-e",
        json.dumps({"dir": str(tmp_path), "owner": owner, "group": group}),
    )
    assert report["stats"]["localhost"]["failures"] == 0, report["plays"][0]["tasks"]
    said = report["plays"][0]["tasks"][2]["hosts"]["localhost"]["msg"]
    assert (tmp_path / "out").read_text().endswith("last line without a block\n\n")
    assert said == {"same": False, "other_mode": True}


STATE = {
    "checksum": "a9993e364706816aba3e25717850c26c9cd0d89d",  # sha1("abc")
    "owner": "root",
    "group": "ahsp",
    "mode": "0640",
}


SECRET = {k: v for k, v in STATE.items() if k != "checksum"}


@pytest.mark.parametrize(
    ("state", "kwargs", "differs"),
    [
        (STATE, {"content": "abc"}, False),
        (STATE, {"checksum": STATE["checksum"]}, False),
        (STATE, {"content": "abc", "mode": "640"}, False),  # the same mode written without its 0
        (STATE, {"content": "abcd"}, True),
        (STATE, {"content": "abc", "owner": "ahsp"}, True),
        (STATE, {"content": "abc", "group": "root"}, True),
        (STATE, {"content": "abc", "mode": "0644"}, True),
        ({}, {"content": "abc"}, True),  # missing, or not a regular file
        ({}, {}, True),  # a missing secret file
        # A secret file: the module compared its content on the host.
        ({**SECRET, "content_matches": True}, {}, False),
        ({**SECRET, "content_matches": False}, {}, True),
        ({**SECRET, "content_matches": True}, {"mode": "0644"}, True),
        (None, {"content": "abc"}, True),
    ],
)
def test_every_kind_of_drift_differs(state, kwargs, differs):
    expected = {"owner": "root", "group": "ahsp", "mode": "0640", **kwargs}
    assert file_differs(state, **expected) is differs


def test_content_or_checksum_not_both():
    with pytest.raises(AnsibleFilterError, match="exactly one"):
        file_differs(STATE, content="abc", checksum="x", owner="root", group="ahsp", mode="0640")
    with pytest.raises(AnsibleFilterError, match="octal"):
        file_differs(STATE, content="abc", owner="root", group="ahsp", mode="rw-r-----")
