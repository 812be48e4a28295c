"""Property-based fuzzing of the JSON API: any input, no 5xx. Needs only Hypothesis.

No Django here on purpose: the same driver runs in-process against Django's
test client (tests/test_fuzz_api.py) and over real HTTP against a deployed
stack (the Molecule full-stack scenario), where only Hypothesis is installed.

    from fuzzing import run_api_fuzz
    statuses = run_api_fuzz(send, [("POST", "/api/project/1/list-pekerjaan/save/")], 200)

``send(method, path, headers, body) -> status`` performs one request. The
driver raises AssertionError on the first status >= 500 (with the request
that caused it) and returns a Counter of the statuses seen. It is
deterministic (``derandomize``), keeps no example database, does not shrink
(so its run time is bounded by ``max_examples`` plus a fixed list of
hand-picked nasty bodies per endpoint), and never waits on a deadline.
A ``send`` that also wants the error shape checked can call
``assert_error_shape`` on each response.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

Send = Callable[[str, str, dict[str, str], bytes], int]
Endpoint = tuple[str, str]

OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=UTF-8",
    "application/json; charset=latin-1",
    "application/json; charset=nonsense",
    "application/json;;;charset",
    "application/vnd.api+json",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "",
)
# Bodies known to break JSON APIs: empty, bare scalars, lone surrogates, deep
# nesting, huge numbers... (kept explicit so every run sends each of them to
# every endpoint).
NASTY_BODIES: tuple[bytes, ...] = (
    b"",
    b"null",
    b"[]",
    b'"\\ud800"',
    b'{"classifications": [{"name": "\\udfff"}]}',
    b'{"\\ud800": 1}',
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"classifications": [' + b"9" * 5000 + b"]}",
    b'{"classifications": [{"name": "a\\u0000b", "sub_classifications": []}]}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b"\xc0\xaf",
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 bytes (CESU-8)
    b'{"classifications": NaN}',
    b"1e999999999",
    b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--\r\n',
    b"a=1&b=2&csrfmiddlewaretoken=x",
)

_NUMBER_TEXT = st.sampled_from(
    [
        "0", "-0", "1", "0.1", "-1", "1e3", "1E+400", "1e999999999", "-1e-999999999",
        "99999999999.9999", "999999999999.9999", "9999999999999.99", "12345678901234.56",
        "0.00001", "1.23456", "NaN", "Infinity", "-Infinity", "sNaN", "1_000", " 1 ", "",
        "0x10", "١٢٣",
    ]
)  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.sampled_from(["", " ", "\x00", "a\x00b", "x" * 201, "y" * 60, "🚧", "\u202e", "'; --"]),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    _NUMBER_TEXT,
)
_JSON = st.recursive(
    _SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the right thing, sometimes any JSON value instead."""
    return st.one_of(value, value, value, _JSON)


_ITEM = st.fixed_dictionaries(
    {
        "code": _maybe(_TEXT),
        "name": _maybe(_TEXT),
        "unit": _maybe(_TEXT),
        "volume": _maybe(st.one_of(_NUMBER_TEXT, st.integers(), st.floats())),
        "unit_price": _maybe(st.one_of(_NUMBER_TEXT, st.integers(), st.floats())),
    },
    optional={"id": _JSON, "total": _JSON, "extra": _JSON},
)
_SUB = st.fixed_dictionaries(
    {"name": _maybe(_TEXT), "items": _maybe(st.lists(_maybe(_ITEM), max_size=4))}
)
_CLASS = st.fixed_dictionaries(
    {"name": _maybe(_TEXT), "sub_classifications": _maybe(st.lists(_maybe(_SUB), max_size=3))}
)
_TREE = st.fixed_dictionaries(
    {"classifications": _maybe(st.lists(_maybe(_CLASS), max_size=3))},
    optional={"project": _JSON, "total": _JSON},
)


@st.composite
def _json_body(draw: st.DrawFn, document: st.SearchStrategy[Any]) -> bytes:
    value = draw(document)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


BODIES = st.one_of(
    _json_body(_TREE),
    _json_body(_TREE),
    _json_body(_JSON),
    st.binary(max_size=300),
    st.sampled_from(NASTY_BODIES),
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return f"Case({self.method} {self.path} headers={self.headers} body={body!r})"


@st.composite
def api_requests(draw: st.DrawFn, endpoints: Sequence[Endpoint]) -> Case:
    method, path = draw(st.sampled_from(list(endpoints)))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(OTHER_METHODS))
    # Half the time a JSON media type, so most bodies get past the 415 and reach
    # the parser and the validation.
    content_type = draw(
        st.one_of(
            st.just("application/json"),
            st.just("application/json; charset=utf-8"),
            st.sampled_from(CONTENT_TYPES),
            HEADER_TEXT,
        )
    )
    headers = {"Content-Type": content_type} if content_type else {}
    if draw(st.integers(0, 9)) == 0:
        headers["Accept"] = draw(HEADER_TEXT)
    return Case(method, path, headers, draw(BODIES))


def assert_error_shape(status: int, body: bytes) -> None:
    """4xx bodies are ``{"error": <code>, "detail": <text>, ...}``."""
    if not 400 <= status < 500:
        return
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{status} with a non-JSON body: {body[:200]!r}") from exc
    if not (
        isinstance(document, dict)
        and isinstance(document.get("error"), str)
        and isinstance(document.get("detail"), str)
    ):
        raise AssertionError(f"{status} without the error shape: {document!r}")


def run_api_fuzz(send: Send, endpoints: Sequence[Endpoint], max_examples: int) -> Counter[int]:
    """Throw generated requests at ``endpoints``; AssertionError on any 5xx, else status counts."""
    statuses: Counter[int] = Counter()

    def probe(case: Case) -> None:
        status = send(case.method, case.path, dict(case.headers), case.body)
        statuses[status] += 1
        if status >= 500:
            raise AssertionError(f"HTTP {status} for {case!r}")

    test = given(case=api_requests(endpoints))(probe)
    for method, path in endpoints:
        for body in NASTY_BODIES:
            test = example(case=Case(method, path, {"Content-Type": "application/json"}, body))(
                test
            )
    test = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(test)
    test()
    return statuses
