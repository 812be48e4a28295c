"""System checks for configuration mistakes that do not stop start-up but should be seen.

``manage.py check --deploy --fail-level WARNING`` (run by the deploy) turns
these warnings into a failed deploy.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility)
def unknown_env_file_names(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A name in an env file that config/environment.toml does not declare is read by
    nothing — most likely a typo that leaves the intended setting at its default.
    """
    names = getattr(settings, "ENV_FILES_UNKNOWN_NAMES", [])
    if not names:
        return []
    return [
        Warning(
            f"env files {', '.join(settings.ENV_FILES)} set variables the app does not read: "
            f"{', '.join(names)}",
            hint="Check the spelling against app/config/environment.toml, or remove them.",
            id="ahsp.W001",
        )
    ]
