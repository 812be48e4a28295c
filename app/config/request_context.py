"""The id of the request being served, for every log line written while serving it.

A context variable rather than a thread-local or an attribute of the request:
logging calls deep in the app (the limiter, the tree cache, the Redis
breaker) have no request at hand, and a context variable follows the
request's thread (gthread workers) without locks. The request-id middleware
(detail_project/request_id.py) binds it when a request starts and clears it
once the response is closed; the logging filter in ``jsonlog.py`` reads it.

Django-free: ``LOGGING`` names the filter before any app is loaded.
"""

from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("ahsp_request_id", default=None)


def bind_request_id(request_id: str) -> None:
    """From now until ``clear_request_id``, log lines of this thread carry ``request_id``."""
    _request_id.set(request_id)


def clear_request_id() -> None:
    """The request is over: later lines of this thread (between requests) carry no id."""
    _request_id.set(None)


def current_request_id() -> str | None:
    return _request_id.get()
