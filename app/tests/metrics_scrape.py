"""Metrics as tests read them: the gunicorn config enabling them, a scrape, per-worker files.

``GUNICORN_CONF`` holds the lines the gunicorn_systemd role's gunicorn.conf.py
adds for the metrics (the directory is a test's own here), so the tests run
the deployment's hooks rather than a stand-in.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.httpclient import request

GUNICORN_CONF = """\
import os

# Metrics: prometheus_client's multiprocess mode. Every worker writes its
# counts to files here and each scrape sums them; emptied at each service
# start (not on a reload, which keeps the counts), inherited by every worker.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = {directory!r}


def on_starting(server) -> None:
    from config.gunicorn_hooks import on_starting as metrics_on_starting

    metrics_on_starting(server)


def child_exit(server, worker) -> None:
    from config.gunicorn_hooks import child_exit as metrics_child_exit

    metrics_child_exit(server, worker)
"""


def write_gunicorn_conf(path: Path, metrics_dir: Path) -> Path:
    path.write_text(GUNICORN_CONF.format(directory=str(metrics_dir)), encoding="utf-8")
    return path


Labels = tuple[tuple[str, str], ...]


def scrape(base_url: str, source: str | None = None) -> dict[tuple[str, Labels], float]:
    """One ``GET /metrics``: sample name and sorted labels → value."""
    reply = request(base_url, "/metrics", source=source)
    assert reply.status == 200, reply.body[:500]
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    """A sample's value; 0 for a series that does not exist (nothing counted yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_counted(samples: dict[tuple[str, Labels], float], view: str) -> float:
    """GET responses of class 2xx that ``view`` answered."""
    return value(samples, "ahsp_http_requests_total", view=view, method="GET", status="2xx")


def per_worker_counts(metrics_dir: Path, view: str) -> Counter[int]:
    """pid → GET 2xx responses of ``view`` that process wrote to its counter file."""
    counts: Counter[int] = Counter()
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, count, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            wanted = {"view": view, "method": "GET", "status": "2xx"}
            if name == "ahsp_http_requests_total" and labels == wanted:
                counts[pid] += int(count)
    return counts


def live_gauge_pids(metrics_dir: Path) -> set[int]:
    """Processes that still have a live-gauge file (removed by child_exit when they die)."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("gauge_live*_*.db")}
