"""One job shared by the README generators: replace the text between two marker lines.

scripts/argspec_docs.py, env_docs.py and plugin_docs.py each render a table
from the code's own declarations; this puts it between their markers, so
the rest of the README stays hand-written.
"""

from __future__ import annotations


def replace_block(text: str, begin: str, end: str, table: str, where: object) -> str:
    """``text`` with everything between ``begin`` and ``end`` replaced by ``table``."""
    if begin not in text or end not in text:
        raise SystemExit(f"{where}: missing the markers\n{begin}\n{end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"
