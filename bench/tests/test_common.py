"""The controller's TIME_WAIT setting: set for the run, put back however it ends."""

from __future__ import annotations

import os
from pathlib import Path

import common
import pytest
from common import TimeWaitReuse


def test_time_wait_reuse_is_set_for_the_block_and_put_back(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_tw_reuse"
    setting.write_text("2\n")
    with pytest.raises(RuntimeError), common.reuse_time_wait_ports(setting) as ports:
        assert setting.read_text() == "1\n"
        assert ports == TimeWaitReuse(before="2", during="1")
        raise RuntimeError("a phase failed")
    assert setting.read_text() == "2\n"


def test_time_wait_reuse_already_on_is_left_alone(tmp_path: Path) -> None:
    setting = tmp_path / "tcp_tw_reuse"
    setting.write_text("1\n")
    os.utime(setting, ns=(1_000_000_000, 1_000_000_000))  # any write would move it
    with common.reuse_time_wait_ports(setting) as ports:
        assert ports == TimeWaitReuse(before="1", during="1")
    assert setting.read_text() == "1\n"
    assert setting.stat().st_mtime_ns == 1_000_000_000


def test_time_wait_reuse_that_cannot_be_written_is_reported_and_kept() -> None:
    # /proc/version reads like a setting but refuses every write, even root's.
    setting = Path("/proc/version")
    before = setting.read_text().strip()
    with common.reuse_time_wait_ports(setting) as ports:
        assert ports == TimeWaitReuse(before=before, during=before)
    assert setting.read_text().strip() == before


def test_time_wait_reuse_unreadable_is_recorded_as_unknown(tmp_path: Path) -> None:
    with common.reuse_time_wait_ports(tmp_path / "missing") as ports:
        assert ports == TimeWaitReuse(before=None, during=None)
