"""Admin for projects, their work-item tree and API tokens.

Django has no nested inlines, so each level gets its own page with the next
level inline: Project → classifications, Classification → sub-classifications,
SubClassification → work items.
"""

from django.contrib import admin
from django.http import HttpRequest

from .models import ApiToken, Classification, Project, SubClassification, WorkItem


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


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "updated_at")
    list_filter = ("owner",)
    search_fields = ("name",)
    inlines = (ClassificationInline,)


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "order")
    list_filter = ("project",)
    inlines = (SubClassificationInline,)


@admin.register(SubClassification)
class SubClassificationAdmin(admin.ModelAdmin):
    list_display = ("name", "classification", "order")
    list_filter = ("classification__project",)
    inlines = (WorkItemInline,)


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
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
