"""Records as JSON data and back: every key checked, derived figures written but not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest
import records
from common import TimeWaitReuse
from httpload import WrkRun, WrkSeries


@dataclass(frozen=True)
class Inner:
    count: int
    share: float


@dataclass(frozen=True)
class Outer:
    DERIVED: ClassVar[tuple[str, ...]] = ("total",)

    name: str
    inner: Inner
    inners: list[Inner]
    by_name: dict[str, Inner]
    maybe: Inner | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.inner.count + sum(x.count for x in self.inners)


def _outer() -> Outer:
    return Outer("o", Inner(1, 0.5), [Inner(2, 1.0)], {"a": Inner(3, 0.25)}, maybe=Inner(4, 2.0))


def test_a_record_reads_back_as_it_was_written() -> None:
    data = records.as_dict(_outer())
    assert data["total"] == 3 and data["inner"] == {"count": 1, "share": 0.5}
    assert data["note"] is None and data["tags"] == []
    assert records.from_dict(Outer, data) == _outer()


def test_an_int_is_read_where_a_float_is_held() -> None:
    data = {**records.as_dict(_outer()), "inner": {"count": 1, "share": 1}}
    inner = records.from_dict(Outer, data).inner
    assert inner.share == 1.0 and isinstance(inner.share, float)


def test_keys_left_out_take_their_defaults() -> None:
    data = records.as_dict(_outer())
    del data["tags"], data["note"]
    assert records.from_dict(Outer, data) == _outer()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unknown": 1}, "unknown keys"),
        ({"inner": {"count": 1}}, "missing keys"),
        ({"inner": {"count": "1", "share": 0.5}}, "expected int"),
        ({"inner": {"count": True, "share": 0.5}}, "expected int"),
        ({"inners": {"count": 1}}, "expected a list"),
        ({"by_name": [1]}, "expected an object"),
        ({"maybe": 3}, "fits none"),
    ],
)
def test_data_of_another_shape_is_refused(change: dict[str, object], message: str) -> None:
    data = {**records.as_dict(_outer()), **change}
    with pytest.raises(ValueError, match=message):
        records.from_dict(Outer, data)


def test_medians_of_a_series_are_written_and_not_read_back() -> None:
    runs = [WrkRun(10, 1.0, float(rps), 1.0, 2.0, 3.0, 1.5, {}) for rps in (100, 300, 200)]
    series = WrkSeries("bare", "/health/live/", 2, 16, runs)
    data = records.as_dict(series)
    assert data["requests_per_second"] == 200.0 and data["requests"] == 30
    assert records.from_dict(WrkSeries, data) == series


def test_only_records_are_written() -> None:
    with pytest.raises(TypeError):
        records.as_dict({"a": 1})
    assert records.from_dict(TimeWaitReuse, {"before": None, "during": "1"}).during == "1"
