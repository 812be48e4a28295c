"""``GET /metrics``: the Prometheus scrape, for the networks in ``METRICS_ALLOWED_NETWORKS`` only.

Access is decided by the TCP peer (``REMOTE_ADDR``) alone, never by
``X-Forwarded-For``: a forwarded header is whatever the client wrote, and
every request through the public front arrives from the front's own address,
so listing the front would open the metrics to the internet. Everyone else
gets the ordinary 404 page, as for a path that does not exist.

Not rate limited (outside ``/api/``) and exempt from the HTTPS redirect, so
Prometheus can scrape each app host directly over the private network.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .metrics import exposition
from .proxies import peer_in

SETTING = "METRICS_ALLOWED_NETWORKS"


@csrf_exempt
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """The peer is checked before anything else, so a refused peer gets the same 404 whatever
    the method (CSRF exempt: the view changes nothing, and CSRF's 403 would answer first).
    """
    if not peer_in(request, settings.METRICS_ALLOWED_NETWORKS, SETTING):
        raise Http404("metrics are not served to this address")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    body, content_type = exposition(request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)
