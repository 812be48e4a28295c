"""App registration for the project-detail (work-item list) slice of AHSP."""

from django.apps import AppConfig


class DetailProjectConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "detail_project"
    verbose_name = "Project detail"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
