"""Pure rules of schedules and slots: reserved shares, which slots of a session are reserved, the
times a weekly template gives, and when a reserved slot is due for release. No database, no clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

# The district's figure when neither department nor hospital sets one (Putuo reserves 10%, Changning 20%).
DEFAULT_RESERVED_SHARE = Decimal("0.10")
# Unused reserved slots go to the public pool this long before they start.
DEFAULT_RELEASE_LEAD_HOURS = 48
# How long a $hold keeps a slot before anyone else may take it.
DEFAULT_HOLD_MINUTES = 10
SHANGHAI = ZoneInfo("Asia/Shanghai")


def reserved_share_for(
    department_share: Decimal | None, hospital_share: Decimal | None, district_share: Decimal
) -> Decimal:
    """The share of a department's slots reserved for family doctors: the department's own figure,
    else the hospital's, else the district's."""
    if department_share is not None:
        return department_share
    if hospital_share is not None:
        return hospital_share
    return district_share


def reserved_count(slots: int, share: Decimal) -> int:
    """How many of a session's slots are reserved: the share rounded half up, so 10% of 5 is 1 and a
    positive share of a session never reserves nothing unless the share rounds to zero."""
    if slots <= 0 or share <= 0:
        return 0
    return min(slots, int((Decimal(slots) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def reserved_positions(slots: int, share: Decimal) -> frozenset[int]:
    """Which positions (0-based) of a session are reserved: spread evenly over the session, so family
    doctors get early and late times alike rather than a block at the start."""
    count = reserved_count(slots, share)
    if count == 0:
        return frozenset()
    step = slots / count
    return frozenset(min(slots - 1, int(step * i + step / 2)) for i in range(count))


def session_times(
    day: date, start: time, end: time, slot_minutes: int, tz: ZoneInfo = SHANGHAI
) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each whole slot of one session; a remainder shorter than a slot is dropped."""
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    begin = datetime.combine(day, start, tzinfo=tz)
    finish = datetime.combine(day, end, tzinfo=tz)
    step = timedelta(minutes=slot_minutes)
    times: list[tuple[datetime, datetime]] = []
    cursor = begin
    while cursor + step <= finish:
        times.append((cursor, cursor + step))
        cursor += step
    return times


def days_on_weekday(first: date, last: date, weekday: int) -> Iterator[date]:
    """Every date from `first` to `last` (inclusive) falling on `weekday` (0 = Monday)."""
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    while day <= last:
        yield day
        day += timedelta(days=7)


def release_cutoff(now: datetime, lead_hours: int) -> datetime:
    """Reserved slots starting before this moment (and not yet started) are due for release."""
    return now + timedelta(hours=lead_hours)


def is_due_for_release(start: datetime, now: datetime, lead_hours: int) -> bool:
    return now < start <= release_cutoff(now, lead_hours)
