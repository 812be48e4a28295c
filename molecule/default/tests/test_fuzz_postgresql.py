"""Generated input at every API endpoint of the deployed stack, on PostgreSQL: never a 5xx.

The driver is the app's own (app/tests/fuzzing.py: Hypothesis, deterministic,
bounded by its example counts plus a fixed list of nasty bodies per
endpoint); here every request goes over HTTP from the controller to an app
host, with a bearer token, and is stored (or refused) by the PostgreSQL host.
The limiter decides every request at the inventory's limit; the test empties
its log (Redis db 1) every 9 requests, so the fuzzing is not all 429s
without a playbook run to raise the limit. Each 4xx must carry the API's
JSON error shape. The statuses seen are printed and written to
build/fuzz-postgresql.json.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
from collections import Counter

from ahsp_testing import ROOT_DIR
from conftest import APP1, TREE

EXAMPLES = {"save": 50, "other": 10}


def _fuzzing():
    """The app's driver, loaded from its file (app/tests is not a package on this path)."""
    spec = importlib.util.spec_from_file_location("fuzzing", ROOT_DIR / "app/tests/fuzzing.py")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generated_requests_never_get_a_5xx_on_postgresql(
    flush_rate_limits, app_addresses, api_token
):
    fuzzing = _fuzzing()
    project_id, token = api_token
    address = app_addresses[APP1]

    sent = [0]

    def send(method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        # The limiter decides every request at the inventory's limit (10 per
        # minute for the token's user); its log is emptied before the limit.
        sent[0] += 1
        if sent[0] % 9 == 0:
            flush_rate_limits()
        conn = http.client.HTTPConnection(address, 8000, timeout=20)
        try:
            conn.request(
                method,
                path,
                body=body,
                headers={**headers, "Host": "localhost", "Authorization": f"Bearer {token}"},
            )
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        fuzzing.assert_error_shape(response.status, content)
        return response.status

    save = f"/api/project/{project_id}/list-pekerjaan/save/"
    endpoints = [
        ("GET", "/api/test/"),
        ("POST", "/api/test/"),
        ("GET", f"/api/project/{project_id}/list-pekerjaan/tree/"),
        ("POST", save),
        ("POST", "/api/project/999999/list-pekerjaan/save/"),
        ("GET", f"/api/project/{2**70}/list-pekerjaan/tree/"),
    ]
    statuses: Counter[int] = Counter()
    try:
        for endpoint in endpoints:
            examples = EXAMPLES["save" if endpoint[1] == save else "other"]
            statuses.update(fuzzing.run_api_fuzz(send, [endpoint], examples))
    finally:
        # The project is shared with the other tests: its tree goes back.
        flush_rate_limits()
        restored = send(
            "POST", save, {"Content-Type": "application/json"}, json.dumps(TREE).encode()
        )
        assert restored == 200, "the project's tree could not be put back"
    report = {"requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items()))}
    (ROOT_DIR / "build").mkdir(exist_ok=True)
    (ROOT_DIR / "build" / "fuzz-postgresql.json").write_text(json.dumps(report, indent=2))
    print(f"\nfuzzing over HTTP on PostgreSQL: {report}")
    assert all(status < 500 for status in statuses), report
    # The run reached the database: some saves were stored, some refused.
    assert statuses[200] > 0 and statuses[400] > 0, report
