"""The release id, taken from the release itself rather than from configuration.

The build writes ``RELEASE`` (one line, e.g. ``3f2a9c1b7d4e``) next to
manage.py, so the id cannot disagree with the code that is running, whatever
the env files say. A working copy has no such file and reports "dev".
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

RELEASE_FILE = "RELEASE"
NO_RELEASE = "dev"


def read_release(base_dir: Path) -> str:
    """The file's content stripped; an empty, multi-line or unreadable file stops start-up."""
    path = base_dir / RELEASE_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return NO_RELEASE
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc}") from exc
    if not text or "\n" in text:
        raise ImproperlyConfigured(f"{path} must hold the release id on one line")
    return text
