"""The contract by construction, read by PostgreSQL's own parser on the host.

Property-based (Hypothesis): text values the role's rule for
``postgresql_extra_config`` values accepts (``check_value``, as the preflight
runs it) are rendered as the role's ``conf.d/ahsp.conf`` template renders them
(``ahsp.stack.pg_value``) and read back by the installed server
(``postgres -C``): the setting must hold exactly the value that was checked.
``log_line_prefix`` is a string setting that takes any text.
"""

from __future__ import annotations

import base64
import shlex
from functools import cache

from ahsp_testing import molecule_hosts
from ansible_collections.ahsp.stack.plugins.filter.formats import pg_value
from ansible_collections.ahsp.stack.plugins.module_utils.inputs import check_value
from conftest import conf_dir_of, version_of
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

RULE = {"format": "text"}  # roles/postgresql/vars/main.yml: postgresql_extra_config values
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("'\"\\$%#=; {}\t\u00a0ü€")),
        st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=["Cs"]),
    ),
    max_size=30,
)


@cache
def _host():
    return next(iter(molecule_hosts().values()))


def _read_back(line: str, setting: str) -> str:
    """``postgres -C setting`` for the cluster's configuration plus ``line``, as printed."""
    host = _host()
    version = version_of(host)
    encoded = base64.b64encode(line.encode()).decode()
    script = (
        "set -eu; tmp=$(mktemp -d); trap 'rm -rf \"$tmp\"' EXIT; "
        f"printf \"include '%s'\\n\" {shlex.quote(conf_dir_of(host) + '/postgresql.conf')} "
        '> "$tmp/postgresql.conf"; '
        f'echo {encoded} | base64 -d >> "$tmp/postgresql.conf"; chown -R postgres "$tmp"; '
        f"runuser -u postgres -- /usr/lib/postgresql/{version}/bin/postgres "
        f"-D /var/lib/postgresql/{version}/main "
        f'-c config_file="$tmp/postgresql.conf" -C {setting}'
    )
    result = host.run(f"sh -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    return result.stdout.removesuffix("\n")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=TEXT)
def test_every_accepted_text_is_the_value_postgresql_reads(value):
    assume(check_value("postgresql_extra_config['log_line_prefix']", value, RULE, {}) == [])
    line = f"\nlog_line_prefix = {pg_value(value)}\n"
    assert _read_back(line, "log_line_prefix") == value
