"""``/api/`` routes. URL names double as the endpoint part of rate-limit keys."""

from django.urls import path

from . import views_api

urlpatterns = [
    path("test/", views_api.api_test, name="api_test"),
    path(
        "project/<int:project_id>/list-pekerjaan/tree/",
        views_api.list_pekerjaan_tree,
        name="list_pekerjaan_tree",
    ),
    path(
        "project/<int:project_id>/list-pekerjaan/save/",
        views_api.list_pekerjaan_save,
        name="list_pekerjaan_save",
    ),
]
