"""The arithmetic of health points, free of the database: event keys, daily caps, what may be redeemed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from jiayi.points.models import EventKind


@dataclass(frozen=True, slots=True)
class DefaultRule:
    code: str
    name: str
    event_kind: EventKind
    points: int
    daily_cap: int | None


# The district's starting rules; the centre managers' commission changes them as data, not code.
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule("yearly-assessment", "完成年度健康评估", EventKind.YEARLY_ASSESSMENT, 50, None),
    DefaultRule("elderly-exam", "完成老年人健康体检", EventKind.ELDERLY_EXAM, 100, None),
    DefaultRule("self-measurement", "上传自测血压/血糖", EventKind.SELF_MEASUREMENT, 2, 6),
    DefaultRule("education-read", "阅读健康教育文章", EventKind.EDUCATION_READ, 5, 15),
)


@dataclass(frozen=True, slots=True, order=True)
class PointEvent:
    """A verified action that may earn points: who, when, and a key naming it uniquely within its rule."""

    resident_id: int
    occurred_on: date
    key: str
    kind: str


def elderly_exam_key(resident_id: int, exam_date: date) -> str:
    # One award per resident and year: a second complete form in the same year is a correction.
    return f"elderly_exam:{resident_id}:{exam_date.year}"


def yearly_assessment_key(resident_id: int, year: int) -> str:
    return f"yearly_assessment:{resident_id}:{year}"


def self_measurement_key(resident_id: int, effective_at: datetime) -> str:
    # A blood-pressure reading arrives as two observations (systolic, diastolic) taken at the same
    # moment: one upload, one award.
    moment = timezone.localtime(effective_at) if timezone.is_aware(effective_at) else effective_at
    return f"self_measurement:{resident_id}:{moment:%Y%m%dT%H%M}"


def education_read_key(resident_id: int, article_id: int) -> str:
    # Reading the same article twice earns once.
    return f"education_read:{resident_id}:{article_id}"


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def capped_points(points: int, daily_cap: int | None, earned_that_day: int) -> int:
    """What one more event pays when the resident already earned `earned_that_day` from the same rule
    that day: the rule's points, cut so the day's total never passes the cap."""
    if points < 0 or earned_that_day < 0:
        raise ValueError("points and earnings are never negative")
    if daily_cap is None:
        return points
    return max(0, min(points, daily_cap - earned_that_day))


def capped_awards(
    events: Iterable[PointEvent],
    points: int,
    daily_cap: int | None,
    already: Mapping[tuple[int, date], int],
) -> list[tuple[PointEvent, int]]:
    """Each event with what it pays, taking events in order (resident, day, key) so a replay of the
    same events in any order pays the same; `already` holds what each (resident, day) earned before."""
    running: dict[tuple[int, date], int] = dict(already)
    awards: list[tuple[PointEvent, int]] = []
    for event in sorted(events):
        day = (event.resident_id, event.occurred_on)
        paid = capped_points(points, daily_cap, running.get(day, 0))
        running[day] = running.get(day, 0) + paid
        awards.append((event, paid))
    return awards


class RedemptionRefused(Exception):
    """A redemption that cannot go ahead; nothing has been written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_redemption(*, balance: int, cost: int, stock: int, active: bool) -> None:
    """Raise RedemptionRefused unless a unit costing `cost` may be taken from `stock` with `balance`."""
    if not active:
        raise RedemptionRefused("item_id", "该兑换项目已下架 This item is no longer offered")
    if stock < 1:
        raise RedemptionRefused("item_id", "该兑换项目已无库存 This item is out of stock")
    if cost > balance:
        raise RedemptionRefused(
            "item_id",
            f"积分不足：需要 {cost}，余额 {balance} Not enough points: {cost} needed, {balance} held",
        )
