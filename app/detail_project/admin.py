"""Admin for projects, their work-item tree and API tokens.

Django has no nested inlines, so each level gets its own page with the next
level inline: Project → classifications, Classification → sub-classifications,
SubClassification → work items.

Every admin change below a project moves the project's ``updated_at``
(``tree.mark_changed``) inside the admin's transaction, because the API's tree
cache is keyed by it (tree_cache.py): without that an admin edit would stay
invisible to the API until the cached entry expired.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import ApiToken, Classification, Project, SubClassification, WorkItem
from .tree import mark_changed


class ClassificationInline(admin.TabularInline):
    model = Classification
    extra = 0
    show_change_link = True


class SubClassificationInline(admin.TabularInline):
    model = SubClassification
    extra = 0
    show_change_link = True


class WorkItemInline(admin.TabularInline):
    model = WorkItem
    extra = 0


class TreeNodeAdmin(admin.ModelAdmin):
    """Admin of one tree level; ``project_path`` leads from a row to its project's id."""

    project_path = ""

    def _projects(self, queryset: QuerySet[Any]) -> set[int]:
        return set(queryset.values_list(self.project_path, flat=True))

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        # Before and after: a row moved to another parent changes two projects.
        before = self._projects(type(obj).objects.filter(pk=obj.pk)) if change else set()
        super().save_model(request, obj, form, change)
        mark_changed(before | self._projects(type(obj).objects.filter(pk=obj.pk)))

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        projects = self._projects(type(obj).objects.filter(pk=obj.pk))
        super().delete_model(request, obj)
        mark_changed(projects)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        projects = self._projects(queryset)
        super().delete_queryset(request, queryset)
        mark_changed(projects)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """A project's own save moves ``updated_at`` (auto_now), inline changes included."""

    list_display = ("name", "owner", "updated_at")
    list_filter = ("owner",)
    search_fields = ("name",)
    inlines = (ClassificationInline,)


@admin.register(Classification)
class ClassificationAdmin(TreeNodeAdmin):
    project_path = "project"
    list_display = ("name", "project", "order")
    list_filter = ("project",)
    inlines = (SubClassificationInline,)


@admin.register(SubClassification)
class SubClassificationAdmin(TreeNodeAdmin):
    project_path = "classification__project"
    list_display = ("name", "classification", "order")
    list_filter = ("classification__project",)
    inlines = (WorkItemInline,)


@admin.register(WorkItem)
class WorkItemAdmin(TreeNodeAdmin):
    project_path = "sub_classification__classification__project"
    list_display = ("code", "name", "unit", "volume", "unit_price", "sub_classification")
    list_filter = ("sub_classification__classification__project",)
    search_fields = ("code", "name")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with ``manage.py create_api_token`` (the raw value is shown once)."""

    list_display = ("prefix", "user", "name", "created")
    readonly_fields = ("prefix", "user", "created")
    search_fields = ("user__username", "prefix", "name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
