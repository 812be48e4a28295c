"""The work-item tree as JSON: reading it, validating a submitted one, replacing it.

Read and write use the same nested shape, so a client can GET the tree, edit
it and POST it back (``id`` and ``total`` keys are accepted and ignored)::

    {"classifications": [
        {"name": "Pekerjaan Persiapan",
         "sub_classifications": [
            {"name": "Pembersihan",
             "items": [{"code": "A.1", "name": "Pembersihan lapangan", "unit": "m2",
                        "volume": "120.5", "unit_price": "15000.00"}]}]}]}

Decimals travel as strings (numbers are accepted on input) so no value ever
passes through a binary float. Saving replaces the whole tree: everything is
validated first and written in one transaction, so a bad request changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Classification, Project, SubClassification, WorkItem, money, money_sum

MAX_NODES = 5000

Errors = dict[str, list[str]]


def _dec(value: Decimal) -> str:
    """Fixed-point string: ``format(..., 'f')`` never yields exponent notation like ``1E+2``."""
    return format(value, "f")


def project_tree(project: Project) -> dict[str, Any]:
    classifications = project.classifications.prefetch_related("sub_classifications__items")
    out: list[dict[str, Any]] = []
    class_totals: list[Decimal] = []
    for cls in classifications:
        sub_totals: list[Decimal] = []
        subs: list[dict[str, Any]] = []
        for sub in cls.sub_classifications.all():
            items = [
                {
                    "id": item.pk,
                    "code": item.code,
                    "name": item.name,
                    "unit": item.unit,
                    "volume": _dec(item.volume),
                    "unit_price": _dec(item.unit_price),
                    "total": _dec(item.total),
                }
                for item in sub.items.all()
            ]
            # Sum the rounded line totals so the sheet adds up exactly as printed.
            sub_total = money_sum(Decimal(i["total"]) for i in items)
            sub_totals.append(sub_total)
            subs.append(
                {"id": sub.pk, "name": sub.name, "total": _dec(money(sub_total)), "items": items}
            )
        cls_total = money_sum(sub_totals)
        class_totals.append(cls_total)
        out.append(
            {
                "id": cls.pk,
                "name": cls.name,
                "total": _dec(money(cls_total)),
                "sub_classifications": subs,
            }
        )
    return {
        "project": {"id": project.pk, "name": project.name},
        "classifications": out,
        "total": _dec(money(money_sum(class_totals))),
    }


class TreeValidationError(Exception):
    def __init__(self, errors: Errors) -> None:
        super().__init__("invalid tree")
        self.errors = errors


@dataclass
class _Sub:
    obj: SubClassification
    items: list[WorkItem] = field(default_factory=list)


@dataclass
class _Cls:
    obj: Classification
    subs: list[_Sub] = field(default_factory=list)


class _Validator:
    """Collects every error (keyed by a JSON path) instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: Errors = {}
        self.nodes = 0
        self.codes: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def list_at(self, data: dict[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.add(f"{path}{key}", "Must be a list.")
            return []
        return value

    def obj_at(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "Must be an object.")
            return None
        self.nodes += 1
        return value

    def text(self, data: dict[str, Any], key: str, path: str) -> str:
        value = data.get(key)
        if value is None:
            self.add(f"{path}.{key}", "This field is required.")
            return ""
        if not isinstance(value, str):
            self.add(f"{path}.{key}", "Must be a string.")
            return ""
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; refuse it everywhere alike.
            self.add(f"{path}.{key}", "Must not contain NUL characters.")
            return ""
        return value.strip()

    def decimal(self, data: dict[str, Any], key: str, path: str) -> Any:
        value = data.get(key)
        if value is None:
            self.add(f"{path}.{key}", "This field is required.")
            return None
        # bool is an int subclass; floats never appear (parsed as Decimal).
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.add(f"{path}.{key}", "Must be a decimal number (string or number).")
            return None
        return value

    def clean(self, obj: Any, path: str, exclude: list[str]) -> None:
        """Run the model's own field validation (lengths, digits, minimums)."""
        try:
            obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                if f"{path}.{name}" in self.errors:
                    continue  # already reported with a clearer type/required message
                for message in messages:
                    self.add(f"{path}.{name}", message)


def parse_tree(payload: Any) -> list[_Cls]:
    """Validate a submitted tree into unsaved model objects, or raise TreeValidationError."""
    v = _Validator()
    if not isinstance(payload, dict):
        raise TreeValidationError({"": ["Body must be a JSON object."]})
    if "classifications" not in payload:
        raise TreeValidationError({"classifications": ["This field is required."]})
    result: list[_Cls] = []
    for ci, raw_cls in enumerate(v.list_at(payload, "classifications", "")):
        cpath = f"classifications[{ci}]"
        cls_data = v.obj_at(raw_cls, cpath)
        if cls_data is None:
            continue
        cls = _Cls(Classification(name=v.text(cls_data, "name", cpath), order=ci))
        v.clean(cls.obj, cpath, ["project"])
        for si, raw_sub in enumerate(v.list_at(cls_data, "sub_classifications", f"{cpath}.")):
            spath = f"{cpath}.sub_classifications[{si}]"
            sub_data = v.obj_at(raw_sub, spath)
            if sub_data is None:
                continue
            sub = _Sub(SubClassification(name=v.text(sub_data, "name", spath), order=si))
            v.clean(sub.obj, spath, ["classification"])
            for ii, raw_item in enumerate(v.list_at(sub_data, "items", f"{spath}.")):
                ipath = f"{spath}.items[{ii}]"
                item_data = v.obj_at(raw_item, ipath)
                if item_data is None:
                    continue
                item = _parse_item(v, item_data, ipath, ii)
                if item is not None:
                    sub.items.append(item)
            cls.subs.append(sub)
        result.append(cls)
        if v.nodes > MAX_NODES:
            raise TreeValidationError({"": [f"Tree too large (more than {MAX_NODES} nodes)."]})
    if v.errors:
        raise TreeValidationError(v.errors)
    return result


def _parse_item(v: _Validator, data: dict[str, Any], path: str, order: int) -> WorkItem | None:
    before = len(v.errors)
    fields = {key: v.text(data, key, path) for key in ("code", "name", "unit")}
    numbers = {key: v.decimal(data, key, path) for key in ("volume", "unit_price")}
    item = WorkItem(**fields, **numbers, order=order)
    v.clean(item, path, ["sub_classification"])
    code = fields["code"]
    if code:
        if code in v.codes:
            v.add(f"{path}.code", f"Duplicate code {code!r} (also at {v.codes[code]}).")
        else:
            v.codes[code] = path
    return item if len(v.errors) == before else None


def mark_changed(project_ids: Iterable[int]) -> None:
    """Move ``updated_at`` of projects whose tree was edited other than through replace_tree
    (the admin): it is part of the tree cache key (tree_cache.py), so every reader
    sees the change as soon as the surrounding transaction commits.
    """
    ids = {pk for pk in project_ids if pk is not None}
    if ids:
        Project.objects.filter(pk__in=ids).update(updated_at=timezone.now())


def replace_tree(project: Project, tree: list[_Cls]) -> None:
    """Swap the project's whole tree atomically; the row lock serialises concurrent saves.

    The new ``updated_at`` is written in the same transaction: it is part of the
    tree cache key, so no reader can see the new key with the old tree.
    """
    with transaction.atomic():
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        Classification.objects.filter(project=project).delete()
        items: list[WorkItem] = []
        for cls in tree:
            cls.obj.project = project
            cls.obj.save()
            for sub in cls.subs:
                sub.obj.classification = cls.obj
                sub.obj.save()
                for item in sub.items:
                    item.sub_classification = sub.obj
                    items.append(item)
        WorkItem.objects.bulk_create(items)
        project.save(update_fields=["updated_at"])
