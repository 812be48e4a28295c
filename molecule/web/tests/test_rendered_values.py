"""The contract by construction, read by systemd itself on the host.

Property-based (Hypothesis): lists of paths the gunicorn_systemd role's rule
for ``gunicorn_systemd_env_files`` accepts (``check_value``, as the preflight
runs it), rendered as the unit template renders them
(``Environment={{ ('AHSP_ENV_FILES=' ~ files | join(':')) | ahsp.stack.systemd_quote }}``
and ``WorkingDirectory=``), are loaded by the host's systemd
(``daemon-reload``) and read back with ``systemctl show``: exactly the
checked value. One reload serves a batch of units.
"""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import yaml
from ansible_collections.ahsp.stack.plugins.filter.formats import systemd_quote
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
RULES = yaml.safe_load(
    (ROOT / "roles" / "gunicorn_systemd" / "vars" / "main.yml").read_text(encoding="utf-8")
)["__gunicorn_systemd_input_rules"]
SEGMENT = st.text(alphabet="abcXYZ019._+@-%$\\\"' ;:", min_size=1, max_size=8)
PATHS = st.lists(
    st.lists(SEGMENT, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p)), max_size=3
)


def _accepted(files: list[str]) -> bool:
    return (
        check_value("gunicorn_systemd_env_files", files, RULES["gunicorn_systemd_env_files"], {})
        == []
    )


def _unit(files: list[str]) -> str:
    return (
        "[Service]\nType=oneshot\nExecStart=/bin/true\n"
        f"Environment={systemd_quote('AHSP_ENV_FILES=' + ':'.join(files))}\n"
    )


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(PATHS, min_size=1, max_size=15))
def test_every_accepted_env_files_list_is_what_systemd_reads(host, batch):
    accepted = [files for files in batch if _accepted(files)]
    names = [f"ahsp-probe-{index}.service" for index in range(len(accepted))]
    writes = "; ".join(
        f"echo {base64.b64encode(_unit(files).encode()).decode()} | base64 -d "
        f"> /run/systemd/system/{name}"
        for name, files in zip(names, accepted, strict=True)
    )
    try:
        host.check_output(f"sh -c {shlex.quote(writes or 'true')} && systemctl daemon-reload")
        for name, files in zip(names, accepted, strict=True):
            shown = host.check_output(f"systemctl show -p Environment --value {name}")
            assert shown == "AHSP_ENV_FILES=" + ":".join(files), (files, shown)
    finally:
        host.run("rm -f /run/systemd/system/ahsp-probe-*.service && systemctl daemon-reload")
