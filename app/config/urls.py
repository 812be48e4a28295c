"""Top-level URL map.

``/health/`` lives outside ``/api/`` on purpose: the rate limiter only guards
``/api/`` so load balancers and playbooks can poll health as often as they like.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("detail_project.urls")),
    path("api/", include("detail_project.urls_api")),
    path("admin/", admin.site.urls),
]
