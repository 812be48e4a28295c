"""WhiteNoise that also serves the hashed files of the release before this one.

App hosts switch releases one by one, and a page the previous release
rendered (still open in a browser, or just served by a host that has not
switched yet) asks for that release's hashed names. The deploy keeps the
previous release's collected files where ``STATIC_PREVIOUS_ROOT`` says, so
after a switch, and after a rollback, both releases' assets resolve on every
host. This release's own files win: a name both releases have (an unhashed
one) is always answered from ``STATIC_ROOT``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class ReleaseStaticFilesMiddleware(WhiteNoiseMiddleware):
    """``WhiteNoiseMiddleware`` plus the files under ``STATIC_PREVIOUS_ROOT``."""

    def __init__(self, get_response=None, settings=settings) -> None:
        super().__init__(get_response, settings=settings)
        previous = getattr(settings, "STATIC_PREVIOUS_ROOT", None)
        if previous and not self.autorefresh and self._is_other_release(Path(previous)):
            own = dict(self.files)
            self.add_files(str(previous), prefix=self.static_prefix)
            self.files.update(own)

    def _is_other_release(self, previous: Path) -> bool:
        """A directory that is not this release's own STATIC_ROOT (after a first deploy
        ``previous`` does not exist yet; after a rollback it is the newer release)."""
        if not previous.is_dir():
            return False
        return not self.static_root or previous.resolve() != Path(self.static_root).resolve()
