"""Whether a file on the host differs from what a template or copy task would write there.

A template task on a converged host still costs two module runs (a stat with
checksum, then the file module for owner, group and mode) to find that nothing
changes. The roles probe their files once (``ahsp.stack.directories``'
``files``), render on the control machine, and let this filter decide which
template tasks need to run at all: a task is skipped only when content, owner,
group and mode all match, so any drift still runs the task, which then
reports and repairs it exactly as before. A file that holds secrets is
compared on the host instead (the module's ``secret_files``), so no digest of
a secret is ever part of a task result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def file_differs(
    state: Mapping[str, Any] | None,
    content: str | None = None,
    checksum: str | None = None,
    owner: str = "",
    group: str = "",
    mode: str = "",
) -> bool:
    """True when the task has something to do: the file is missing, or content, owner, group or mode differ.

    ``state`` is ``files[path]`` of ``ahsp.stack.directories`` ({} for a missing
    file). The expected content comes as text (encoded as UTF-8, as the
    template module writes it) or as the SHA-1 ``checksum`` of its bytes; for
    a file probed as one of the module's ``secret_files`` the module compared
    the content on the host already (``content_matches``), and neither is given.
    """
    if not state:
        return True
    if "content_matches" in state:
        # A secret file: the probe compared the content on the host.
        same_content = bool(state["content_matches"])
    else:
        if (content is None) == (checksum is None):
            raise AnsibleFilterError("file_differs: give exactly one of content and checksum")
        if checksum is None:
            checksum = hashlib.sha1(str(content).encode("utf-8")).hexdigest()  # noqa: S324
        same_content = state.get("checksum") == checksum
    expected_mode = str(mode)
    if not expected_mode.startswith("0"):
        expected_mode = "0" + expected_mode
    try:
        same_mode = int(state.get("mode", ""), 8) == int(expected_mode, 8)
    except ValueError as err:
        raise AnsibleFilterError(
            f"file_differs: mode must be an octal string (got {mode!r})"
        ) from err
    return not (
        same_content and state.get("owner") == owner and state.get("group") == group and same_mode
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"file_differs": file_differs}
