"""The ahsp.stack.managed_files action: a step's files rendered on the controller, sent to the host in one module run.

Its documentation (options, examples, return values) is that of the module of
the same name, plugins/modules/managed_files.py, where ansible-doc and
ansible-test read an action's documentation.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible_collections.ahsp.stack.plugins.modules.managed_files import (
    ARGUMENT_SPEC as MODULE_SPEC,
)

# The module's own argument spec, less the option only this action fills in.
_SPEC = copy.deepcopy(MODULE_SPEC)
del _SPEC["secret_contents"]
_SOURCES = ("template", "src", "content")


def _refuse_unquoted_modes(args: dict[str, Any]) -> None:
    """A mode YAML read as a number (0640 unquoted is 416) would be misread: it must be a quoted octal string."""
    for kind, key in (("directories", "path"), ("files", "dest")):
        for item in args.get(kind) or []:
            mode = item.get("mode", "0644") if isinstance(item, dict) else "0644"
            if not isinstance(mode, str) or re.fullmatch("[0-7]{3,4}", mode) is None:
                raise AnsibleActionFail(
                    f'managed_files: {item.get(key)}: mode must be a quoted octal string such as "0640" '
                    f"(got {mode!r})"
                )


class ActionModule(ActionBase):
    """Render each file once, then let one module run compare and write them all."""

    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _refuse_unquoted_modes(self._task.args)
        checked = ArgumentSpecValidator(_SPEC).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail("managed_files: " + "; ".join(checked.error_messages))
        given = checked.validated_parameters
        files = [self._module_item(item, task_vars) for item in given["files"]]
        # Secret contents travel in an option of their own, which Ansible
        # masks as a whole in every output and in the host's journal.
        secrets = {item["dest"]: item.pop("content") for item in files if item["secret"]}
        result.update(
            self._execute_module(
                module_name="ahsp.stack.managed_files",
                module_args={
                    "directories": given["directories"],
                    "files": files,
                    "secret_contents": secrets,
                },
                task_vars=task_vars,
            )
        )
        # The module's arguments carry every file's content: not worth a screen.
        result.pop("invocation", None)
        return result

    def _module_item(self, item: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """One file as the module takes it: the content rendered (run() moves a secret's to the masked option)."""
        given = [name for name in _SOURCES if item[name] is not None]
        if item["state"] == "absent":
            content = None
        elif len(given) != 1:
            raise AnsibleActionFail(
                f"managed_files: {item['dest']}: give exactly one of template, src and content (got {given or 'none'})"
            )
        elif given[0] == "template":
            content = self._render(item["template"], task_vars)
        elif given[0] == "src":
            content = self._role_file(item["src"])
        else:
            content = item["content"]
        module_item = {key: value for key, value in item.items() if key not in _SOURCES}
        module_item["content"] = content
        return module_item

    def _role_file(self, name: str) -> str:
        """A file of the role's files/ directory, as it is (line endings kept); it must be UTF-8 text."""
        try:
            path = self._find_needle("files", name)
        except AnsibleError as err:
            raise AnsibleActionFail(f"managed_files: {err}") from err
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                return handle.read()
        except UnicodeDecodeError as err:
            raise AnsibleActionFail(
                f"managed_files: {path} is not UTF-8 text ({err.reason})"
            ) from err

    def _render(self, name: str, task_vars: dict[str, Any]) -> str:
        """A template of the role rendered as ansible.builtin.template renders it (trim_blocks, trailing newlines kept)."""
        try:
            source = self._find_needle("templates", name)
        except AnsibleError as err:
            raise AnsibleActionFail(f"managed_files: {err}") from err
        searchpath = []
        for folder in [
            *task_vars.get("ansible_search_path", []),
            self._loader.get_basedir(),
            os.path.dirname(source),
        ]:
            searchpath += [os.path.join(folder, "templates"), folder]
        template_vars = dict(task_vars)
        # As ansible.builtin.template does when nothing sets it: the configured string.
        template_vars.setdefault(
            "ansible_managed", C.config.get_config_value("DEFAULT_MANAGED_STR")
        )
        templar = self._templar.copy_with_new_env(
            searchpath=searchpath, available_variables=template_vars
        )
        data = trust_as_template(self._loader.get_text_file_contents(source))
        rendered = templar.template(
            data,
            escape_backslashes=False,
            overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
        )
        return "" if rendered is None else str(rendered)
