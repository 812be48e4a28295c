"""Domain model: a project owns a three-level tree of work items.

The tree is stored as three tables rather than one self-referencing table
because AHSP sheets have exactly three levels (classification →
sub-classification → work item) and only the leaves carry quantities.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

MONEY_QUANT = Decimal("0.01")
# Exact arithmetic for the largest storable values: a 15-digit volume times a
# 15-digit price has 30 digits, a project sums up to 5,000 of them. The default
# context (28 digits) would round those, or fail to quantize them to cents.
MONEY_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> Decimal:
    """Round to cents half-up, the way cost sheets are totalled by hand."""
    return value.quantize(MONEY_QUANT, context=MONEY_CONTEXT)


# SQLite stores a decimal as a REAL when that keeps its first 15 significant
# digits, silently dropping the rest; PostgreSQL keeps them all. Refusing more
# than 15 keeps a value exact, and equal, on both.
SIGNIFICANT_DIGITS = 15


def significant_digits(value: Decimal) -> int:
    """Digits without trailing zeros, read off the tuple: no decimal context involved, so
    no overflow on ``1E+999999999``.
    """
    digits = "".join(map(str, value.as_tuple().digits)).rstrip("0")
    return len(digits)


def exact_in_every_database(value: Decimal) -> None:
    if value.is_finite() and significant_digits(value) > SIGNIFICANT_DIGITS:
        raise ValidationError(
            f"Use at most {SIGNIFICANT_DIGITS} significant digits.", code="significant_digits"
        )


def money_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal("0.00")
    for value in values:
        total = MONEY_CONTEXT.add(total, value)
    return total


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
        max_digits=18,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), exact_in_every_database],
    )
    unit_price = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), exact_in_every_database],
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("order", "id")
        verbose_name = "work item"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def total(self) -> Decimal:
        return money(MONEY_CONTEXT.multiply(self.volume, self.unit_price))


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
