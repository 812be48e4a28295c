"""Helpers shared by the Molecule (testinfra) suites of this repository.

Molecule runs converge and idempotence itself, but some behaviours can only be
checked by running a playbook from inside a test: that a drifted host is
repaired and the run *reports* the repair, that a run's full output never
contains a secret, that bad input fails before the host changes. Those tests
call `run_playbook`, which reuses the inventory and environment Molecule gave
the verifier, so the playbook runs exactly as Molecule's own converge does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT_DIR = next(p for p in Path(__file__).resolve().parents if (p / "ansible.cfg").is_file())

RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlaybookRun:
    """What a test needs from one ansible-playbook run."""

    rc: int
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        """Per-host counters from the PLAY RECAP (last one wins)."""
        result: dict[str, dict[str, int]] = {}
        for match in RECAP.finditer(self.output):
            counters = match.groupdict()
            host = counters.pop("host")
            result[host] = {k: int(v) for k, v in counters.items()}
        return result

    def changed(self) -> int:
        """Sum of `changed` over all hosts."""
        return sum(c["changed"] for c in self.recap().values())

    def tail(self, lines: int = 60) -> str:
        """The end of the output, for assertion messages."""
        return "\n".join(self.output.splitlines()[-lines:])


def molecule_hosts() -> dict:
    """Every host of the scenario's inventory, as testinfra hosts, by name.

    For tests that cover all hosts at once (one playbook run serves them all)
    instead of being repeated per host through testinfra's `host` fixture.
    """
    import testinfra
    from testinfra.utils.ansible_runner import AnsibleRunner

    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    names = AnsibleRunner(inventory).get_hosts("all")
    return {
        name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory) for name in names
    }


def inventory_variables(name: str) -> dict:
    """A host's variables as the scenario's inventory gives them (templated)."""
    from testinfra.utils.ansible_runner import AnsibleRunner

    return AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_variables(name)


def scenario_dir() -> Path:
    """The directory of the scenario whose verifier is running."""
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


def run_playbook(
    playbook: str = "converge.yml",
    *args: str,
    timeout: int = 900,
    extra_env: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run a playbook of the current scenario against Molecule's inventory."""
    env = dict(os.environ)
    env.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    env.update(extra_env or {})
    cmd = [
        "ansible-playbook",
        "--inventory",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(scenario_dir() / playbook),
        *args,
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        cwd=scenario_dir(),
    )
    return PlaybookRun(rc=proc.returncode, output=proc.stdout + proc.stderr)


def bad_input_problems(cases, secrets=(), workers: int = 3) -> list[str]:
    """Run converge.yml once per (extra vars, variable name) case; return what went wrong.

    Each run must fail, name the variable, change nothing and show no secret.
    The runs stop before any change, so they go `workers` at a time. The
    caller compares the hosts' state before and after.
    """

    def attempt(case):
        return case, run_playbook("converge.yml", "--extra-vars", json.dumps(case[0]))

    problems = []
    with ThreadPoolExecutor(workers) as pool:
        for (overrides, name), run in pool.map(attempt, cases):
            label = json.dumps(overrides)
            if run.rc == 0:
                problems.append(f"{label}: the run succeeded")
            elif name not in run.output:
                problems.append(f"{label}: the failure does not name {name}:\n{run.tail(15)}")
            elif "changed: [" in run.output:
                problems.append(f"{label}: something changed:\n{run.tail(15)}")
            if any(secret in run.output for secret in secrets):
                problems.append(f"{label}: a secret reached the output")
    return problems


def copy_app(target: Path) -> Path:
    """A copy of app/ to change in a test (a new release), without local files."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", ".env*", ".venv", "*.sqlite3", "RELEASE")
    source = target / "app"
    shutil.copytree(ROOT_DIR / "app", source, ignore=ignore)
    return source


def break_health(source: Path) -> Path:
    """Make a copied app a release that boots and passes its checks but never reports healthy."""
    with (source / "detail_project" / "health.py").open("a") as health_py:
        health_py.write(
            "\n\n# Added by a test: this release boots, but /health/ always answers 503.\n"
            "HealthReport.healthy = property(lambda self: False)\n"
        )
    return source


# Runs inside the host under test (python3 is on every host): sends `count`
# requests, `parallel` at a time, and prints one JSON object per response.
_HTTP_CLIENT = r"""
import json, sys, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor
urls, method, count, parallel, headers = json.loads(sys.argv[1])
def answer(i, url, status, hdrs, body):
    return {"i": i, "url": url, "status": status, "headers": dict(hdrs),
            "body": body.decode("utf-8", "replace")}
def one(i):
    url = urls[i % len(urls)]
    data = b"" if method == "POST" else None
    req = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return answer(i, url, r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return answer(i, url, e.code, e.headers, e.read())
    except Exception as e:
        return answer(i, url, -1, {}, repr(e).encode())
if parallel <= 1:
    results = [one(i) for i in range(count)]
else:
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(one, range(count)))
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Response:
    """One HTTP response as seen from inside a host."""

    status: int
    headers: dict[str, str]
    body: str
    url: str = ""

    def json(self) -> dict:
        return json.loads(self.body)


def http(
    host,
    urls: str | list[str],
    *,
    method: str = "GET",
    count: int = 1,
    parallel: int = 1,
    headers: dict[str, str] | None = None,
) -> list[Response]:
    """Send requests from inside `host` (bounded: count requests, 20 s timeout each)."""
    url_list = [urls] if isinstance(urls, str) else list(urls)
    payload = json.dumps([url_list, method, count, parallel, headers or {}])
    out = host.check_output(f"python3 -c {shlex.quote(_HTTP_CLIENT)} {shlex.quote(payload)}")
    return [
        Response(status=r["status"], headers=r["headers"], body=r["body"], url=r["url"])
        for r in json.loads(out)
    ]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    """Poll `predicate` until it returns something truthy (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"not within {timeout} s: {what}")


SECRETS_DIR = "/root/.molecule-secrets"


def place_secret(container: str, name: str, value: str) -> str:
    """Put a test secret in a root-only file of a container, through stdin.

    Tests then read it on the host (`REDISCLI_AUTH="$(cat FILE)"`), so no
    secret is ever part of a command line: not in the container's process
    list, and not in the commands testinfra shows when a check fails.
    """
    path = f"{SECRETS_DIR}/{name}"
    subprocess.run(
        [
            "docker",
            "exec",
            "-i",
            container,
            "sh",
            "-c",
            f"umask 077 && mkdir -p {SECRETS_DIR} && cat > {path}",
        ],
        input=value,
        text=True,
        check=True,
        timeout=30,
    )
    return path


EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")


def exposure(host, unit: str) -> float:
    """systemd's own score of a unit's sandbox (`systemd-analyze security`, 0 safest, 10 none)."""
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    match = EXPOSURE.search(out)
    assert match, out[-400:]
    score = float(match.group(1))
    # Recorded for the reader of a test run (build/exposure.json), by host and unit.
    report = ROOT_DIR / "build" / "exposure.json"
    report.parent.mkdir(exist_ok=True)
    scores = json.loads(report.read_text()) if report.is_file() else {}
    scores[f"{host.check_output('hostname')} {unit}"] = score
    report.write_text(json.dumps(scores, indent=2, sort_keys=True) + "\n")
    return score


# A project tree the stack tests and the bench's day-2 load read through the
# tree API (one item: 120.5 m2 at 15,000.00, so the total is 1,807,500.00).
TREE = {
    "classifications": [
        {
            "name": "Pekerjaan Persiapan",
            "sub_classifications": [
                {
                    "name": "Pembersihan",
                    "items": [
                        {
                            "code": "A.1",
                            "name": "Pembersihan lapangan",
                            "unit": "m2",
                            "volume": "120.5",
                            "unit_price": "15000.00",
                        }
                    ],
                }
            ],
        }
    ]
}
