"""Django's PostgreSQL backend, accepting a second password while a rotation is under way.

PostgreSQL gives a role exactly one password, so the app's hosts and the
server cannot switch at the same instant: for a while some connections are
made with a password the server does not (yet, or any more) accept. The
rotation therefore goes in three steps, each safe under load:

1. app hosts get ``DB_PASSWORD=<new>`` and ``DB_PASSWORD_FALLBACK=<old>``
   (graceful reload): a new connection offers the new password, is refused,
   and is made again with the old one;
2. the role gets the new password (``ALTER ROLE``): the first try works;
3. app hosts drop ``DB_PASSWORD_FALLBACK`` (graceful reload).

Open connections are never affected: PostgreSQL checks a password only when
a connection is made. Only a refusal of *the password* (libpq's message
``password authentication failed``, which PostgreSQL uses for password, md5
and scram-sha-256 alike) leads to the second try; any other failure (server
down, wrong database, too many connections, timeout) is raised exactly as
Django's backend raises it, and a refused fallback raises the original error
— two attempts at most, never a loop.

The hook is ``get_new_connection``, the backend method Django calls for every
new connection, in a backend selected by ``DATABASES["default"]["ENGINE"]``:
Django's documented way to customise a database backend. The fallback comes
from the database's own settings (``PASSWORD_FALLBACK`` next to ``PASSWORD``).
With ``OPTIONS["pool"]`` (not used by the app) connections come from a pool
built with the main password only, so the fallback is refused at start-up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as postgresql

logger = logging.getLogger(__name__)

REFUSAL_MESSAGE = "password authentication failed"

_warned_lock = threading.Lock()
_warned = False


def password_refused(exc: BaseException) -> bool:
    """Whether the server refused the offered password (and nothing else went wrong).

    libpq reports connection failures as text only (no SQLSTATE), so the
    message is matched; PostgreSQL writes it in its ``lc_messages`` language,
    which must therefore be English (``C`` or ``en_*``, the Debian default) for
    the fallback to be used at all.
    """
    return REFUSAL_MESSAGE in str(exc)


def _warn_once(user: str) -> None:
    global _warned
    with _warned_lock:
        if _warned:
            return
        _warned = True
    logger.warning(
        "PostgreSQL refused DB_PASSWORD for user %r; connected with DB_PASSWORD_FALLBACK. "
        "Finish the rotation: give the role the new password, then remove "
        "DB_PASSWORD_FALLBACK (logged once per process).",
        user,
    )


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def __init__(self, settings_dict: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(settings_dict, *args, **kwargs)
        if self.settings_dict.get("PASSWORD_FALLBACK") and self.settings_dict["OPTIONS"].get(
            "pool"
        ):
            raise ImproperlyConfigured("PASSWORD_FALLBACK does not work with OPTIONS['pool']")

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except self.Database.OperationalError as exc:
            fallback = self.settings_dict.get("PASSWORD_FALLBACK") or ""
            if not fallback or not password_refused(exc):
                raise
            try:
                connection = super().get_new_connection({**conn_params, "password": fallback})
            except self.Database.OperationalError as fallback_exc:
                exc.add_note(f"DB_PASSWORD_FALLBACK was not accepted either: {fallback_exc}")
                raise exc from None
        _warn_once(conn_params.get("user", ""))
        return connection
