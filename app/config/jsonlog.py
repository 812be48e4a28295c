"""One JSON object per log line, each carrying the id of the request it was written for.

The journal (or whatever collects stderr) stores lines; a multi-line
traceback or a newline in a logged value would otherwise split one event
into several, or let a client forge a line. JSON keeps every event on one
line, escapes control characters and non-ASCII, and lets the log store
filter on fields (``request_id``, ``level``, ``logger``) instead of
parsing text.

Only the fields below are written. Django and the app pass extra objects on
records (``request`` among them, whose cookies and headers must never reach a
log), so the formatter never dumps a record's attributes wholesale.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from .request_context import current_request_id

# Extra attributes worth keeping when a caller sets them (Django's request
# logger sets status_code); plain numbers only, so nothing secret can ride along.
_NUMERIC_EXTRAS = ("status_code",)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "pid", "request_id", "message"[, "exception"]}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        for name in _NUMERIC_EXTRAS:
            value = getattr(record, name, None)
            if isinstance(value, int):
                event[name] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            event["exception"] = record.exc_text
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, default=str)


def _timestamp(created: float) -> str:
    """UTC with milliseconds, e.g. ``2026-01-31T12:00:00.123Z``: sortable, zone-free."""
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
