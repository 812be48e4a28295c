"""Reading a JSON request body so that every client mistake is a 4xx, never a 500.

The checks run in the order a client can fix them: too big (413), not JSON at
all (415), not decodable or not a JSON document (400). Strings that no
database can store — lone UTF-16 surrogates, which are legal JSON escapes
(``"\\ud800"``) but not Unicode text — are refused here for the whole
document; NUL characters are refused per field by the tree validation.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, UnreadablePostError

JSON_MEDIA_TYPE = "application/json"
# A \uD800-\uDFFF escape: only then can the parsed document hold a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


class BodyError(Exception):
    """A client error in the body: HTTP status, error code and a human-readable detail."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def body_limit() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def check_size(request: HttpRequest) -> None:
    """Refuse by the declared length before anything reads the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > body_limit():
        raise BodyError(413, "body_too_large", f"Request body exceeds {body_limit()} bytes.")


def check_json_content_type(request: HttpRequest) -> None:
    """``application/json``, optionally with ``charset=utf-8`` (RFC 8259: JSON is UTF-8)."""
    if request.content_type != JSON_MEDIA_TYPE:
        raise BodyError(415, "unsupported_media_type", f"Content-Type must be {JSON_MEDIA_TYPE}.")
    charset = request.content_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise BodyError(415, "unsupported_media_type", "JSON bodies must be UTF-8.")


def read_json(request: HttpRequest) -> Any:
    """The parsed document; numbers with a fraction or exponent become Decimal, never float."""
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise BodyError(
            413, "body_too_large", f"Request body exceeds {body_limit()} bytes."
        ) from exc
    except UnreadablePostError as exc:
        raise BodyError(400, "invalid_json", "Request body could not be read.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, "invalid_json", "Request body is not UTF-8.") from exc
    try:
        payload = json.loads(text, parse_float=Decimal)
    except RecursionError as exc:
        raise BodyError(400, "invalid_json", "Request body is nested too deeply.") from exc
    except ValueError as exc:  # JSONDecodeError, and ints over Python's digit limit
        raise BodyError(400, "invalid_json", "Request body is not valid JSON.") from exc
    if _SURROGATE_ESCAPE.search(raw) and not _encodable(payload):
        raise BodyError(400, "invalid_json", "Request body contains unpaired surrogates.")
    return payload


def _encodable(payload: Any) -> bool:
    """Every string (keys included) is real Unicode; checked by re-encoding at C speed."""
    try:
        json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except RecursionError:
        return False
    return True
