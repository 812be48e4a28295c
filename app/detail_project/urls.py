"""Page routes: landing page, the health probes and the metrics scrape (never rate limited,
no auth; ``/metrics`` answers only the networks of METRICS_ALLOWED_NETWORKS).
"""

from django.urls import path

from . import metrics_view, views

urlpatterns = [
    path("", views.index, name="index"),
    path("health/", views.health, name="health"),
    path("health/live/", views.live, name="live"),
    path("metrics", metrics_view.metrics, name="metrics"),
]
