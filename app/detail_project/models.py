"""Domain model: a project owns a three-level tree of work items.

The tree is stored as three tables rather than one self-referencing table
because AHSP sheets have exactly three levels (classification →
sub-classification → work item) and only the leaves carry quantities.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

MONEY_QUANT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round to cents half-up, the way cost sheets are totalled by hand."""
    return value.quantize(MONEY_QUANT, rounding=ROUND_HALF_UP)


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class Classification(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classifications")
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("order", "id")

    def __str__(self) -> str:
        return self.name


class SubClassification(models.Model):
    classification = models.ForeignKey(
        Classification, on_delete=models.CASCADE, related_name="sub_classifications"
    )
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("order", "id")
        verbose_name = "sub-classification"

    def __str__(self) -> str:
        return self.name


class WorkItem(models.Model):
    sub_classification = models.ForeignKey(
        SubClassification, on_delete=models.CASCADE, related_name="items"
    )
    code = models.CharField(max_length=50)
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=20)
    # Decimal, never float: totals must add up to the cent on printed sheets.
    volume = models.DecimalField(
        max_digits=18, decimal_places=4, validators=[MinValueValidator(Decimal("0"))]
    )
    unit_price = models.DecimalField(
        max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("order", "id")
        verbose_name = "work item"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def total(self) -> Decimal:
        return money(self.volume * self.unit_price)


class ApiToken(models.Model):
    """A bearer token for scripts; only its SHA-256 is stored, so a database leak leaks no tokens.

    SHA-256 without salt/stretching is enough here because the token itself is
    256 random bits, unlike a human password.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # First characters of the raw token so an admin can tell tokens apart.
    prefix = models.CharField(max_length=8, editable=False)
    name = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
