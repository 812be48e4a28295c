"""Top-level URL map.

``/health/`` lives outside ``/api/`` on purpose: the rate limiter only guards
``/api/`` so load balancers and playbooks can poll health as often as they like.
The error handlers answer JSON under ``/api/`` and turn a Redis outage into a
503 (detail_project/errors.py).
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("detail_project.urls")),
    path("api/", include("detail_project.urls_api")),
    path("admin/", admin.site.urls),
]

handler400 = "detail_project.errors.bad_request"
handler403 = "detail_project.errors.permission_denied"
handler404 = "detail_project.errors.page_not_found"
handler500 = "detail_project.errors.server_error"
