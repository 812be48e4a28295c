"""Page routes: landing page and the health probes (never rate limited, no auth)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("health/", views.health, name="health"),
    path("health/live/", views.live, name="live"),
]
