"""The app's metrics under gunicorn: one scrape counts every worker exactly.

prometheus_client's multiprocess mode, set up by gunicorn.conf.py and the
release's config.gunicorn_hooks: each worker writes its counts to files in
the service's runtime directory, and /metrics sums them. Counts of workers
that exited (recycled, or replaced by a reload) stay in the sum.
"""

from __future__ import annotations

from ahsp_testing import http, wait_for
from conftest import BASE, SERVICE, main_pid, worker_pids
from test_nginx import front, local_ca_on_host  # noqa: F401 (its CA for front())

METRICS_DIR = f"/run/{SERVICE}/metrics"


def _live_probes_counted(host) -> float:
    """ahsp_http_requests_total of the `live` view (/health/live/), summed over its labels."""
    (scrape,) = http(host, f"{BASE}/metrics")
    assert scrape.status == 200, scrape.body[:500]
    total = 0.0
    for line in scrape.body.splitlines():
        if line.startswith("ahsp_http_requests_total{") and 'view="live"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _probe(host, count: int) -> None:
    answers = http(host, f"{BASE}/health/live/", count=count, parallel=8)
    assert [a.status for a in answers] == [200] * count


def test_metrics_are_for_the_monitoring_hosts_never_through_the_front(host):
    assert front(host, "https://localhost/metrics")["status"] == 404
    # Plain HTTP redirects to HTTPS first (this scenario's front redirects).
    assert front(host, "http://localhost/metrics")["status"] in (301, 404)
    # The host's own address is not one the inventory lets read them (400:
    # not a host name the app answers to either).
    address = host.check_output("hostname -I").split()[0]
    (answer,) = http(host, f"http://{address}:8000/metrics")
    assert answer.status in (400, 404), answer
    assert "ahsp_http_requests" not in answer.body


def test_1000_requests_over_every_worker_sum_to_1000_through_recycling_and_a_reload(host):
    master = main_pid(host)
    before = _live_probes_counted(host)
    _probe(host, 400)
    # Every worker counted some of them (one file of counters per worker).
    writers = {int(p) for p in host.check_output(
        f"ls {METRICS_DIR} | sed -n 's/^counter_\\([0-9]*\\)\\.db$/\\1/p'"
    ).split()}  # fmt: skip
    assert worker_pids(host) <= writers

    # A worker recycled (it exits; a new one takes its place): its counts stay.
    victim = sorted(worker_pids(host))[0]
    host.check_output(f"kill -TERM {victim}")
    wait_for(
        lambda: victim not in (pids := worker_pids(host)) and len(pids) == 4,
        15,
        "a new worker in place of the recycled one",
    )
    _probe(host, 300)

    # A reload replaces every worker; the counts of the old ones stay.
    old_workers = worker_pids(host)
    host.check_output(f"systemctl reload {SERVICE}")
    wait_for(
        lambda: len(pids := worker_pids(host)) == 4 and not pids & old_workers,
        30,
        "four new workers after the reload",
    )
    _probe(host, 300)

    assert main_pid(host) == master
    assert _live_probes_counted(host) - before == 1000
