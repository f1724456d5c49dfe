"""Health points (健康积分): earning rules as data, an append-only ledger, a redemption catalogue.

The ledger is the truth: a resident's balance is the sum of their entries. `PointAccount.balance` keeps
that sum beside the ledger so a redemption can lock one row and check it; every write changes both in
the same transaction. An award is idempotent per triggering event: (rule, event_key) is unique, so a
replayed event hits the constraint instead of paying twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from jiayi.registry.models import Institution, Resident


class EventKind(models.TextChoices):
    """The verified actions that earn points."""

    YEARLY_ASSESSMENT = "yearly_assessment", "完成年度健康评估 Yearly assessment completed"
    ELDERLY_EXAM = "elderly_exam", "完成老年人健康体检 65+ health check completed"
    SELF_MEASUREMENT = "self_measurement", "上传自测数据 Self-measurement uploaded"
    EDUCATION_READ = "education_read", "阅读健康教育 Health education read"


class EntryKind(models.TextChoices):
    EARN = "earn", "获得 Earned"
    REDEEM = "redeem", "兑换 Redeemed"


class PointRule(models.Model):
    """One way to earn points (积分规则): what earns, how much, and the most a resident can earn from it
    in one day (daily cap, 每日上限)."""

    code = models.SlugField(max_length=48, unique=True)
    name = models.CharField(max_length=100)
    event_kind = models.CharField(max_length=24, choices=EventKind.choices, unique=True)
    points = models.PositiveIntegerField()
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most points a resident earns from this rule per day; empty: no cap."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class PointAccount(models.Model):
    """A resident's running balance, always equal to the sum of their ledger entries."""

    resident = models.OneToOneField(Resident, on_delete=models.PROTECT, related_name="point_account")
    balance = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.resident_id}: {self.balance}"


class CatalogueItem(models.Model):
    """Something residents may redeem points for (兑换商品/服务), with the stock left."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    cost = models.PositiveIntegerField(help_text="Points one unit costs")
    stock = models.PositiveIntegerField(default=0)
    centre = models.ForeignKey(
        Institution,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="catalogue_items",
        help_text="The centre handing it out; empty: offered district-wide.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["cost", "name"]
        constraints = [models.CheckConstraint(condition=Q(cost__gt=0), name="points_item_cost_positive")]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    """One unit of a catalogue item taken for points (积分兑换), by the resident or a family member."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="redemptions")
    item = models.ForeignKey(CatalogueItem, on_delete=models.PROTECT, related_name="redemptions")
    cost = models.PositiveIntegerField()
    redeemed_at = models.DateTimeField()
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-redeemed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.item} ({self.cost})"


class AppendOnly(Exception):
    """Ledger entries are never changed or deleted; a correction is a new entry."""


class PointEntry(models.Model):
    """One line of the ledger (积分流水): points earned (positive) or spent (negative)."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="point_entries")
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    rule = models.ForeignKey(
        PointRule, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    event_key = models.CharField(
        max_length=120, help_text="What triggered the entry, e.g. elderly_exam:<resident>:<year>."
    )
    points = models.IntegerField()
    requested = models.IntegerField(
        default=0, help_text="What the rule pays; more than `points` when the daily cap cut the award."
    )
    occurred_on = models.DateField(help_text="The day of the triggering event; daily caps count by it.")
    recorded_at = models.DateTimeField()
    redemption = models.OneToOneField(
        Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="entry"
    )

    class Meta:
        ordering = ["-occurred_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "event_key"], name="points_entry_once_per_event"),
            models.CheckConstraint(
                condition=(Q(kind=EntryKind.EARN) & Q(rule__isnull=False) & Q(points__gte=0))
                | (Q(kind=EntryKind.REDEEM) & Q(redemption__isnull=False) & Q(points__lt=0)),
                name="points_entry_kind_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["resident", "occurred_on"]),
            models.Index(fields=["rule", "resident", "occurred_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnly("ledger entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnly("ledger entries cannot be deleted")
