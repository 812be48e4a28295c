"""The in-process script: its profile summary, and a whole run in the app's own process.

The whole run starts the app as an app host does (`manage.py shell -c` with
the script's source), against the throw-away redis-server and a SQLite
file, so the record the bench reads back is the one the script prints.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import subprocess
import sys
from pathlib import Path
from typing import Any

import inprocess
import inprocess_shell
import limiter
import pytest
import redis
from common import ROOT, BenchError


def test_profile_summary_names_the_limiters_functions() -> None:
    def hit() -> None:
        sum(range(100))

    hit.__code__ = hit.__code__.replace(co_filename="/srv/x/detail_project/sliding_log.py")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        hit()
    profiler.disable()
    summary = inprocess._profile_summary(pstats.Stats(profiler), 10)
    assert summary.points["  decision (sliding_log.hit)"].calls_per_request == 1.0
    assert summary.top_own_time and summary.requests == 10
    assert inprocess._short("/srv/r/venv/lib/python3.11/site-packages/redis/client.py") == (
        "redis/client.py"
    )


def test_a_round_is_summarized_per_kind() -> None:
    values = {
        "bare": [(100.0, 90.0), (110.0, 95.0), (300.0, 99.0)],
        "limited": [(250.0, 150.0), (260.0, 160.0), (270.0, 170.0)],
        "get": [(100.0, 80.0)] * 3,
        "decision": [(120.0, 60.0)] * 3,
    }
    medians = inprocess.round_medians(values)
    assert (medians.limiter_off_us, medians.limiter_on_us) == (110.0, 260.0)
    assert (medians.limiter_added_us, medians.limiter_added_vs_get) == (150.0, 1.5)
    assert medians.limiter_added_cpu_us == 65.0
    times = inprocess.call_times(values["bare"])
    assert (times.p50_us, times.p99_us, times.cpu_p50_us, times.calls) == (110.0, 300.0, 95.0, 3)


def test_output_without_the_result_line_is_an_error() -> None:
    with pytest.raises(BenchError, match="no result line"):
        inprocess_shell.figures("Traceback ...")


def test_an_answer_other_than_200_voids_the_figures() -> None:
    data = json.loads((Path(__file__).parent / "sample-results.json").read_text())["inprocess"]
    data["statuses"] = {"200 OK": 10, "429 Too Many Requests": 1}
    with pytest.raises(BenchError, match="other than 200"):
        inprocess_shell.figures("noise\n" + inprocess_shell.MARK + json.dumps(data))
    data["statuses"] = {"200 OK": 10}
    figures = inprocess_shell.figures(inprocess_shell.MARK + json.dumps(data))
    assert figures.statuses == {"200 OK": 10}


def _app_env(redis_url: dict[str, Any], workdir: Path) -> dict[str, str]:
    """An app host's settings from the environment alone (no env files)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "AHSP_ENV_FILES": "",
        "DEBUG": "true",
        "ALLOWED_HOSTS": "bench-app1",
        "SQLITE_PATH": str(workdir / "db.sqlite3"),
        "REDIS_URL": f"redis://{redis_url['host']}:{redis_url['port']}/{redis_url['db']}",
        "REDIS_PASSWORD": redis_url["password"],
        "API_TEST_ENABLED": "true",
        "RATELIMIT_ENABLED": "true",
    }


def test_the_script_measures_inside_the_app(redis_url: dict[str, Any], tmp_path: Path) -> None:
    own_db = {**redis_url, "db": 2}  # the script's keys expire with their window only
    client = redis.Redis(**own_db)
    client.function_load(limiter.app_library().library().code, replace=True)
    params = {
        "host": "bench-app1",
        "rounds": 2,
        "steps_per_round": 5,
        "client_addresses": 512,
        "profile_requests": 5,
    }
    manage = [sys.executable, str(ROOT / "app" / "manage.py"), "shell", "--no-imports", "-c"]
    proc = subprocess.run(
        [*manage, inprocess_shell.code(params)],
        env=_app_env(own_db, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    client.flushdb()
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = inprocess_shell.figures(proc.stdout)
    assert (figures.host, figures.rounds, figures.steps_per_round) == ("bench-app1", 2, 5)
    assert len(figures.per_round) == 2 and figures.limiter_on.calls == 10
    # Warm-up (200 of each kind of request), the rounds, and the two profiles.
    assert figures.statuses == {"200 OK": 2 * 200 + 2 * 10 + 2 * 5}
    # The limiter's decision runs in limited requests only.
    assert "  decision (sliding_log.hit)" in figures.limited_profile.points
    assert "  decision (sliding_log.hit)" not in figures.bare_profile.points
    assert figures.redis_host == "127.0.0.1"
