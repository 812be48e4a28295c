"""Run bench/inprocess.py inside an app host's live release, and read its figures back.

The script's source goes to `ahsp-manage shell --no-imports -c` with one
line appended that calls its `measure` with the bench's parameters and
prints the result as one `INPROCESS_JSON {...}` line; that line is read
back into an `InProcessFigures` record. Any answer other than 200 in the
measured requests voids the figures (a 429 or a 5xx is not the path being
timed).
"""

from __future__ import annotations

import json
from typing import Any

import records
from common import API_PATH, APP_HOSTS, ROOT, BenchError, docker_exec, log
from inprocess import InProcessFigures

SCRIPT = ROOT / "bench" / "inprocess.py"
MARK = "INPROCESS_JSON "
HOST = APP_HOSTS[0]
PARAMS = {"host": HOST, "rounds": 7, "steps_per_round": 400, "client_addresses": 1024}


def code(params: dict[str, Any]) -> str:
    """inprocess.py's source, then the call that measures with `params` and prints the line."""
    return (
        SCRIPT.read_text()
        + "\nimport json as _bench_json\n"
        + f"_bench_params = _bench_json.loads({json.dumps(json.dumps(params))})\n"
        + "print(as_json_line(measure(_bench_params)))\n"
    )


def figures(output: str) -> InProcessFigures:
    """The record in the script's output; BenchError when it is missing, or an answer not 200."""
    line = next((x for x in output.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise BenchError(f"in-process: no result line in {output[-500:]!r}")
    result = records.from_dict(InProcessFigures, json.loads(line.removeprefix(MARK)))
    unexpected = {k: v for k, v in result.statuses.items() if not k.startswith("200")}
    if unexpected:
        raise BenchError(f"in-process: answers other than 200: {unexpected}")
    return result


def measure() -> InProcessFigures:
    """The in-process figures of the first app host."""
    log(f"in-process: {API_PATH} with and without the limiter on {HOST}")
    output = docker_exec(
        HOST, ["ahsp-manage", "shell", "--no-imports", "-c", code(PARAMS)], timeout=900
    )
    result = figures(output)
    log(
        f"in-process: limiter adds {result.limiter_added_us} us per request,"
        f" GET {result.redis_py_get_us} us ({result.limiter_added_vs_get} x)"
    )
    return result
