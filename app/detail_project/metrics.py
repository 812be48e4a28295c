"""The app's Prometheus metrics: what is counted, under which labels, and how a scrape reads them.

Every label value comes from a short, fixed set — the URL name a request
resolved to (never its path), a known HTTP method, a status class, a check
name — so no client can grow the number of series.

Under gunicorn each worker is a process of its own. With
``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn's config sets it, see
config/gunicorn_hooks.py) prometheus_client keeps every value in a file per
process, and a scrape sums the files of all workers, living and dead, so
counts are exact however requests were spread and however often workers were
replaced. Without it (development, ``manage.py``) a scrape reads this process
alone. Every metric has labels, so a process that never records anything
(``gunicorn --check-config``) writes no file.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED_VIEW = "unresolved"
STATIC_VIEW = "static"

REQUESTS = Counter(
    "ahsp_http_requests",
    "HTTP responses, by the URL name the request resolved to, method and status class.",
    ["view", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "ahsp_http_request_duration_seconds",
    "Seconds from the app receiving a request to its response being ready, by view and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LIMITER_DECISIONS = Counter(
    "ahsp_ratelimit_decisions",
    "Rate limiter decisions by endpoint: allowed, limited, or unavailable (Redis unreachable).",
    ["endpoint", "decision"],
)
BREAKER_OPEN = Gauge(
    "ahsp_redis_breaker_open",
    "Live worker processes whose Redis circuit breaker is open (skipping Redis or waiting for "
    "its probe to succeed); 0: closed everywhere.",
    ["breaker"],
    multiprocess_mode="livesum",
)
BREAKER_TRANSITIONS = Counter(
    "ahsp_redis_breaker_transitions",
    "Times a worker's Redis circuit breaker opened or closed again.",
    ["breaker", "state"],
)
CHECK_SECONDS = Histogram(
    "ahsp_health_check_duration_seconds",
    "Seconds each /health/ dependency check took, by check (database, redis) and result.",
    ["check", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def status_class(status: int) -> str:
    """``2xx`` … ``5xx``; anything outside 100-599 (never sent by Django) as ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def method_label(method: str | None) -> str:
    """A known method as it is; anything a client invents as ``other``."""
    return method if method in KNOWN_METHODS else "other"


def view_label(request: HttpRequest) -> str:
    """The URL name the request resolved to (``admin:index``, ``list_pekerjaan_tree``).

    Requests answered before or without URL resolution — static files served by
    WhiteNoise, redirects to HTTPS or to the slash-ended URL, unknown paths —
    have no name: ``static`` under ``STATIC_URL``, ``unresolved`` otherwise.
    """
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return STATIC_VIEW
    return UNRESOLVED_VIEW


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(view, method, status_class(status)).inc()
    REQUEST_SECONDS.labels(view, method).observe(seconds)


def count_limiter_decision(endpoint: str, decision: str) -> None:
    """``decision``: ``allowed``, ``limited`` or ``unavailable``."""
    LIMITER_DECISIONS.labels(endpoint, decision).inc()


def observe_check(check: str, status: str, seconds: float) -> None:
    CHECK_SECONDS.labels(check, status).observe(seconds)


def breaker_observer(name: str) -> Callable[[bool], None]:
    """The breaker's ``on_change``: the gauge says whether it is open, the counter counts moves.

    The gauge starts at 0 so a closed breaker shows as 0 rather than no series.
    """
    gauge = BREAKER_OPEN.labels(name)
    gauge.set(0)

    def changed(is_open: bool) -> None:
        gauge.set(1 if is_open else 0)
        BREAKER_TRANSITIONS.labels(name, "open" if is_open else "closed").inc()

    return changed


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type (OpenMetrics when the scraper asks for it)."""
    directory = settings.PROMETHEUS_MULTIPROC_DIR
    if directory is None:
        registry = REGISTRY
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(directory))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
