"""The front phase: its loads and record from faked runs, the manifest, the probe over real TLS."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import front
import httpload
import pytest
import records
from conftest import TlsRecorder, fake_front_figures
from httpload import Site, WrkRun

APPS = [("10.0.0.3", "bench-app1"), ("10.0.0.4", "bench-app2")]
WEB = "10.0.0.9"
HASHED = "css/app.0123456789ab.css"
MANIFEST = {
    "paths": {"admin/css/base.css": "admin/css/base.aaaaaaaaaaaa.css", "css/app.css": HASHED}
}
# req/s per round: the front over HTTP at 0.9, 0.95, 1.0 of straight; HTTPS at
# 0.8, 0.85, 0.9; static files 4, 5, 6 x; handshakes 1.5, 2, 2.5 x.
STRAIGHT = [1000.0, 1000.0, 1000.0]
FACTORS = {
    "http": [0.9, 0.95, 1.0],
    "https": [0.8, 0.85, 0.9],
    "static": [4.0, 5.0, 6.0],
    "handshakes": [1.5, 2.0, 2.5],
}


SOCKSTAT = """sockets: used 120
TCP: inuse 4 orphan 0 tw 8123 alloc 9 mem 2
UDP: inuse 0 mem 0
"""


def _key(site: Site, path: str, headers: tuple[str, ...]) -> str:
    """Which of the five loads a wrk run is, from what it asks."""
    if site.port == 8000:
        return "straight"
    if path.startswith("/static/"):
        return "handshakes" if front.CLOSE in headers else "static"
    return site.scheme


@pytest.fixture
def fake_stack(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """wrk, the probe, the containers' address, the manifest and the access logs, faked."""
    seen: dict[str, list[Any]] = {"wrk": [], "fetch": [], "exec": []}
    measured = {key: iter(values) for key, values in FACTORS.items()}
    measured["straight"] = iter([1.0] * 3)
    # Each host's access log: 5 lines for the file before the rounds, 5 and 6 after.
    counts = iter(["5\n", "5\n", "5\n", "6\n"])

    def fake_wrk(site: Site, path: str, *, seconds: int, headers: tuple[str, ...], **kw: Any):
        key = _key(site, path, headers)
        seen["wrk"].append((key, seconds, site, path, headers, kw))
        rps = 1000.0 * (next(measured[key]) if seconds == front.SECONDS_PER_RUN else 1.0)
        cpu = {"bench-web": 0.0 if key == "straight" else 100.0, "bench-app1": 500.0, "wrk": 9.0}
        return WrkRun(int(rps * seconds), float(seconds), rps, 2.0, 3.0, 4.0, 2.5, {}, cpu)

    def fake_fetch(site: Site, path: str, headers: tuple[str, ...] = ()) -> front.Answer:
        seen["fetch"].append((site.url(path), headers))
        control = {"cache-control": front.IMMUTABLE, "content-encoding": "gzip"}
        tls = "TLSv1.3" if site.scheme == "https" else ""
        return front.Answer(200, control if path.startswith("/static/") else {}, 321, tls)

    def fake_exec(host: str, argv: list[str]) -> str:
        seen["exec"].append((host, argv))
        if host == front.WEB_HOST:
            return SOCKSTAT + "2\n"
        return json.dumps(MANIFEST) if argv[0] == "cat" else next(counts)

    monkeypatch.setattr(front.httpload, "wrk_site", fake_wrk)
    monkeypatch.setattr(front, "fetch", fake_fetch)
    monkeypatch.setattr(front, "container_ip", lambda host: WEB)
    monkeypatch.setattr(front, "docker_exec", fake_exec)
    monkeypatch.setattr(front, "ROUNDS", 3)
    return seen


def test_the_front_section_from_its_runs(fake_stack: dict[str, list[Any]]) -> None:
    figures = front.measure(APPS)
    assert figures.http_vs_straight == 0.95 and figures.https_vs_straight == 0.85
    assert figures.static_vs_straight == 5.0 and figures.handshakes_vs_straight == 2.0
    # Servers' CPU per request: straight 500 us, through the front 600 us.
    assert figures.http_vs_straight_cpu == figures.https_vs_straight_cpu == round(500 / 600, 3)
    assert (figures.rounds, figures.tls_version, figures.server_name) == (3, "TLSv1.3", "bench-web")
    assert figures.static_file == front.StaticFile(
        f"/static/{HASHED}", 321, "gzip", front.IMMUTABLE, app_requests=1
    )
    assert figures.static.requests_per_second == 5000.0
    assert (figures.web_time_wait, figures.web_tcp_tw_reuse) == (8123, "2")
    assert records.from_dict(front.FrontFigures, records.as_dict(figures)) == figures


def test_the_loads_ask_what_the_phase_says(fake_stack: dict[str, list[Any]]) -> None:
    front.measure(APPS)
    runs = fake_stack["wrk"]
    order = [key for key, seconds, *_ in runs]
    keys = ["straight", "http", "https", "static", "handshakes"]
    assert order == keys + keys + keys[::-1] + keys  # warm-ups, then alternating rounds
    assert [seconds for _, seconds, *_ in runs[:5]] == [front.WARMUP_SECONDS] * 5
    sites = {key: (site, path, headers) for key, _, site, path, headers, _ in runs}
    assert sites["straight"] == (
        Site("http", "bench-app1", 8000, ("10.0.0.3", "10.0.0.4")),
        "/health/live/",
        (),
    )
    assert sites["http"][0] == Site("http", "bench-web", 80, (WEB,))
    assert sites["https"][0] == Site("https", "bench-web", 443, (WEB,))
    assert sites["static"][1:] == (f"/static/{HASHED}", (front.GZIP,))
    assert sites["handshakes"][1:] == (f"/static/{HASHED}", (front.GZIP, front.CLOSE))
    for *_, kw in runs:
        assert kw == {"threads": 2, "connections": 16, "containers": front.CONTAINERS}
    # The probe: one request of each kind before any load.
    assert [url for url, _ in fake_stack["fetch"]] == [
        "http://bench-app1:8000/health/live/",
        "http://bench-web:80/health/live/",
        "https://bench-web:443/health/live/",
        f"https://bench-web:443/static/{HASHED}",
    ]
    # The access logs are read with the file's path as an argument, never in the script.
    greps = [
        argv for host, argv in fake_stack["exec"] if argv[0] == "sh" and host != front.WEB_HOST
    ]
    assert len(greps) == 4 and all(
        argv[3:] == [f"/static/{HASHED}", front.GUNICORN_ACCESS_LOG] for argv in greps
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (front.Answer(301, {}, 0, ""), "answered 301"),
        (front.Answer(200, {"cache-control": "max-age=60"}, 9, "TLSv1.3"), "Cache-Control"),
    ],
)
def test_the_probe_stops_the_phase(
    fake_stack: dict[str, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
    answer: front.Answer,
    message: str,
) -> None:
    """A redirect (wrk counts it as an answer) or a static file served as not hashed."""
    monkeypatch.setattr(front, "fetch", lambda site, path, headers=(): answer)
    with pytest.raises(front.BenchError, match=message):
        front.measure(APPS)
    assert fake_stack["wrk"] == []


def test_the_stylesheet_is_the_static_file_else_the_first_hashed_name() -> None:
    assert front.hashed_asset(MANIFEST) == HASHED
    other = {"paths": {"b.css": "b.bbbbbbbbbbbb.css", "a.js": "a.aaaaaaaaaaaa.js"}}
    assert front.hashed_asset(other) == "a.aaaaaaaaaaaa.js"
    for bad in ({"paths": {"css/app.css": "css/app.css"}}, {"paths": {}}, {}, []):
        with pytest.raises(front.BenchError):
            front.hashed_asset(bad)  # type: ignore[arg-type]


def test_without_the_front_container_the_phase_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(host: str) -> str:
        raise subprocess.CalledProcessError(1, ["docker", "inspect", host])

    monkeypatch.setattr(front, "container_ip", missing)
    with pytest.raises(front.BenchError, match="--skip-front"):
        front.web_address()


def test_static_requests_add_up_every_app_host(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["3\n", "\n"])
    monkeypatch.setattr(front, "docker_exec", lambda host, argv: next(answers))
    assert front.static_requests("/static/x") == 3


def _tls(port: int, name: str = "bench-web") -> Site:
    return Site("https", name, port, ("127.0.0.1",))


def test_the_probe_trusts_the_local_ca_only(
    tls_server: int, local_ca: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(front, "LOCAL_CA", Path(local_ca["ca.crt"]))
    answer = front.fetch(_tls(tls_server), "/static/x", (front.GZIP,))
    assert answer.status == 200 and answer.tls_version.startswith("TLSv1.")
    assert answer.headers["cache-control"] == front.IMMUTABLE and answer.size == 16
    assert TlsRecorder.seen[-1]["sni"] == TlsRecorder.seen[-1]["host"] == "bench-web"
    with pytest.raises(front.BenchError, match="certificate"):
        front.fetch(_tls(tls_server, "bench-other"), "/")  # a name the certificate lacks
    monkeypatch.setattr(front, "LOCAL_CA", Path(local_ca["other-ca.crt"]))
    with pytest.raises(front.BenchError, match="certificate"):
        front.fetch(_tls(tls_server), "/")
    monkeypatch.setattr(front, "LOCAL_CA", Path(local_ca["ca.crt"]).with_name("absent.crt"))
    with pytest.raises(front.BenchError, match="missing"):
        front.fetch(_tls(tls_server), "/")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_makes_a_full_handshake_for_every_new_connection(tls_server: int) -> None:
    """With `Connection: close`, every request is a new connection and wrk never offers
    its last session (the server would resume it): the phase's figure is of full
    handshakes. If a wrk release starts resuming, the README's claim must change.
    """
    run = httpload.wrk_site(
        _tls(tls_server), "/s", seconds=1, threads=1, connections=2, headers=(front.CLOSE,)
    )
    seen = TlsRecorder.seen
    assert run.requests > 5 and len(seen) >= run.requests
    assert len({x["connection"] for x in seen}) == len(seen)  # one request per connection
    assert not any(x["reused"] for x in seen)
    assert {(x["sni"], x["host"], x["path"]) for x in seen} == {("bench-web", "bench-web", "/s")}
    TlsRecorder.seen = []
    kept = httpload.wrk_site(_tls(tls_server), "/s", seconds=1, threads=1, connections=2)
    assert len({x["connection"] for x in TlsRecorder.seen}) <= 2 < kept.requests  # keep-alive


def test_the_sample_record_reads_back() -> None:
    figures = fake_front_figures()
    assert (figures.http_vs_straight, figures.https_vs_straight) == (0.95, 0.92)
    assert (figures.static_vs_straight, figures.handshakes_vs_straight) == (5.0, 2.0)
    assert records.from_dict(front.FrontFigures, records.as_dict(figures)) == figures


def test_every_load_round_pairs_with_its_own_straight_run() -> None:
    """Ratios are per round: a slow round of both sides does not pull the figure down."""
    straight = [WrkRun(1, 1.0, rps, 1.0, 1.0, 1.0, 1.0, {}) for rps in (1000.0, 500.0, 1000.0)]
    through = [WrkRun(1, 1.0, rps, 1.0, 1.0, 1.0, 1.0, {}) for rps in (950.0, 475.0, 900.0)]
    assert front.paired_ratio(through, straight) == 0.95


def test_time_wait_is_read_from_sockstat() -> None:
    assert front.time_wait(SOCKSTAT) == 8123
    assert front.time_wait("TCP: inuse 1 orphan 0\n") is None
    assert front.time_wait("") is None
