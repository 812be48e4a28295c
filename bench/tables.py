"""Plain-text tables for the report: left-aligned columns as wide as their widest cell."""

from __future__ import annotations


def rows(headers: list[str], body: list[list[str]]) -> str:
    """A header line, a dashed rule, then one line per row; trailing blanks trimmed."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [line.format(*headers).rstrip(), line.format(*("-" * w for w in widths))]
        + [line.format(*row).rstrip() for row in body]
    )


def section(title: str, headers: list[str], body: list[list[str]]) -> str:
    """A table under its title, after a blank line."""
    return f"\n{title}\n" + rows(headers, body)


def yes_no(met: bool) -> str:
    """How a verdict reads in a table: a miss stands out."""
    return "yes" if met else "NO"
