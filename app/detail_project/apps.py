"""App registration for the project-detail (work-item list) slice of AHSP."""

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.core.signals import request_finished


class DetailProjectConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "detail_project"
    verbose_name = "Project detail"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from .login_throttle import login_succeeded
        from .request_id import request_over

        # A login takes back what its own attempt counted (login_throttle.py).
        user_logged_in.connect(login_succeeded, dispatch_uid="detail_project.login_succeeded")
        # Log lines written after a response was closed carry no request's id.
        request_finished.connect(request_over, dispatch_uid="detail_project.request_over")
