"""Building a family doctor's worklist (工作清单) from their signed panel.

Each kind of item is one query over the panel (a subquery, never a list of ids sent back to the
database), so a 2,000-resident panel costs the same handful of queries as a 20-resident one. Due
dates are operational choices, documented beside each source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from typing import Final

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from jiayi.care import plan, rules
from jiayi.care.choices import CareTaskStatus, ContactOutcome, FollowUpStatus
from jiayi.care.models import Assessment, CareTask, Contact, ElderlyCareYear, FollowUp
from jiayi.care.services import STROKE_OR_MI_PREFIXES
from jiayi.care.worklist import WorklistItem, worklist_sources
from jiayi.records.models import Condition
from jiayi.registry.models import Staff
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing

WEEK_DAYS: Final = 7
# Operational choices of due dates.
ASSESSMENT_DUE_AFTER_START_DAYS: Final = 60  # the yearly assessment within 2 months of the signing period
RENEWAL_LEAD_DAYS: Final = 30  # a renewal is worked on from a month before the period ends
CONTACT_DUE_MONTH_OF_QUARTER: Final = 2  # a quarter's contact is due by the end of its second month

KIND_ORDER: Final = {
    "urgent": 0,
    "follow_up": 1,
    "referral": 2,
    "elderly_exam": 3,
    "assessment": 4,
    "contact": 5,
    "renewal": 6,
}


def panel_signings(staff: Staff, *, team: bool = False) -> QuerySet[Signing]:
    """Active signings of the doctor's panel; with `team`, of every team the staff member is in."""
    # No ordering: every use is a subquery or an unordered scan.
    signings = Signing.objects.filter(status=SigningStatus.ACTIVE).order_by()
    if team:
        return signings.filter(team__members=staff)
    return signings.filter(family_doctor=staff)


def _stroke_or_mi() -> Q:
    # Codes are stored normalised (upper case, `records.lib.normalise_icd10`), so a plain prefix match
    # keeps the (resident, code) index usable.
    return reduce(or_, (Q(code__startswith=prefix) for prefix in STROKE_OR_MI_PREFIXES))


def _url_maker(name: str) -> Callable[[int], str]:
    """reverse() once per list, not once per item: a 2,000-resident panel has thousands of items."""
    template = reverse(name, args=[987654321])
    head, tail = template.split("987654321")
    return lambda pk: f"{head}{pk}{tail}"


def follow_up_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Scheduled follow-ups due by `until`; high risk by `rules.high_risk_overdue` on the last BP."""
    last_done = FollowUp.objects.filter(
        enrolment=OuterRef("enrolment"), status=FollowUpStatus.DONE, sbp__isnull=False
    ).order_by("-performed_on", "-id")
    rows = (
        FollowUp.objects.filter(
            status=FollowUpStatus.SCHEDULED,
            scheduled_on__lte=until,
            resident__in=panel.values("resident"),
        )
        .annotate(
            last_sbp=Subquery(last_done.values("sbp")[:1]),
            last_dbp=Subquery(last_done.values("dbp")[:1]),
            stroke_or_mi=Exists(Condition.objects.filter(_stroke_or_mi(), resident=OuterRef("resident"))),
        )
        .values_list("id", "resident_id", "programme", "scheduled_on", "last_sbp", "last_dbp", "stroke_or_mi")
    )
    items = []
    url = _url_maker("care:follow_up")
    for pk, resident_id, programme, scheduled_on, last_sbp, last_dbp, stroke_or_mi in rows:
        days = rules.overdue_days(scheduled_on, today)
        high = rules.high_risk_overdue(
            days_overdue=days, last_sbp=last_sbp, last_dbp=last_dbp, prior_stroke_or_mi=stroke_or_mi
        )
        title = "高血压随访" if programme == "hypertension" else "糖尿病随访"
        items.append(
            WorklistItem(
                kind="follow_up",
                resident_id=resident_id,
                due_on=scheduled_on,
                title=title,
                priority=0 if high else 1,
                url=url(pk),
                high_risk=high,
            )
        )
    return items


def assessment_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Residents without an assessment since their signing period started, due 60 days into it."""
    resident_url = _url_maker("care:resident")
    latest_start = until - timedelta(days=ASSESSMENT_DUE_AFTER_START_DAYS)
    rows = (
        panel.filter(starts_on__lte=latest_start)
        .exclude(
            Exists(
                Assessment.objects.filter(
                    resident=OuterRef("resident"), performed_on__gte=OuterRef("starts_on")
                )
            )
        )
        .values_list("resident_id", "starts_on")
    )
    return [
        WorklistItem(
            kind="assessment",
            resident_id=resident_id,
            due_on=starts_on + timedelta(days=ASSESSMENT_DUE_AFTER_START_DAYS),
            title="年度健康评估",
            priority=4,
            url=resident_url(resident_id) + "#assessment",
            high_risk=False,
        )
        for resident_id, starts_on in rows
    ]


def _birthday_in(year: int, born: date) -> date:
    if born.month == 2 and born.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, born.month, born.day)


def elderly_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Residents turning 65 or older this year without a complete 65+ care year; due on their
    birthday this year (operational choice: spreads the exams over the year)."""
    resident_url = _url_maker("care:resident")
    year = today.year
    rows = (
        panel.filter(resident__birth_date__lt=date(year - plan.ELDERLY_FROM_AGE + 1, 1, 1))
        .exclude(
            Exists(ElderlyCareYear.objects.filter(resident=OuterRef("resident"), year=year, complete=True))
        )
        .values_list("resident_id", "resident__birth_date")
    )
    items = []
    for resident_id, born in rows:
        due_on = _birthday_in(year, born)
        if due_on <= until:
            items.append(
                WorklistItem(
                    kind="elderly_exam",
                    resident_id=resident_id,
                    due_on=due_on,
                    title="老年人健康体检",
                    priority=3,
                    url=resident_url(resident_id) + "#elderly",
                    high_risk=False,
                )
            )
    return items


def contact_due_on(today: date) -> date:
    """When this quarter's contact is due: the last day of the quarter's second month."""
    year, quarter = plan.quarter_of(today)
    start, _end = plan.quarter_bounds(year, quarter)
    month = start.month + CONTACT_DUE_MONTH_OF_QUARTER
    return date(year, month, 1) - timedelta(days=1)


def contact_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Signed residents not yet reached this quarter (an unreachable attempt does not count)."""
    resident_url = _url_maker("care:resident")
    due_on = contact_due_on(today)
    if due_on > until:
        return []
    start, _end = plan.quarter_bounds(*plan.quarter_of(today))
    # A range on the stored timestamp, not on its date, so the (resident, at) index serves it.
    since = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    reached = Contact.objects.filter(
        resident=OuterRef("resident"), outcome=ContactOutcome.REACHED, at__gte=since
    )
    visited = FollowUp.objects.filter(
        resident=OuterRef("resident"), status=FollowUpStatus.DONE, performed_on__gte=start
    )
    rows = panel.exclude(Exists(reached)).exclude(Exists(visited)).values_list("resident_id", flat=True)
    return [
        WorklistItem(
            kind="contact",
            resident_id=resident_id,
            due_on=due_on,
            title="季度主动联系",
            priority=5,
            url=resident_url(resident_id) + "#contacts",
            high_risk=False,
        )
        for resident_id in rows
    ]


def renewal_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Signings ending within a month (plus the week ahead) that nobody has renewed."""
    signing_url = _url_maker("signing:detail")
    # An anti-join by Exists: `successors__isnull` makes PostgreSQL merge-join the whole table.
    renewed = Signing.objects.filter(previous=OuterRef("pk"))
    rows = (
        panel.filter(ends_on__lte=until + timedelta(days=RENEWAL_LEAD_DAYS))
        .exclude(Exists(renewed))
        .values_list("id", "resident_id", "ends_on")
    )
    return [
        WorklistItem(
            kind="renewal",
            resident_id=resident_id,
            due_on=ends_on - timedelta(days=RENEWAL_LEAD_DAYS),
            title="签约即将到期，待续约",
            priority=6,
            url=signing_url(pk),
            high_risk=False,
        )
        for pk, resident_id, ends_on in rows
    ]


def urgent_items(panel: QuerySet[Signing], today: date, until: date) -> list[WorklistItem]:
    """Open urgent tasks (emergency referrals) of the panel's residents: always high risk."""
    resident_url = _url_maker("care:resident")
    rows = CareTask.objects.filter(
        status=CareTaskStatus.OPEN, due_on__lte=until, resident__in=panel.values("resident")
    ).values_list("id", "resident_id", "due_on")
    return [
        WorklistItem(
            kind="urgent",
            resident_id=resident_id,
            due_on=due_on,
            title="紧急转诊待处理",
            priority=0,
            url=resident_url(resident_id) + f"#task-{pk}",
            high_risk=True,
        )
        for pk, resident_id, due_on in rows
    ]


CARE_SOURCES: Final = (
    urgent_items,
    follow_up_items,
    elderly_items,
    assessment_items,
    contact_items,
    renewal_items,
)


@dataclass
class Worklist:
    """Items split into overdue, today and this week, high risk first in each."""

    today: date
    overdue: list[WorklistItem] = field(default_factory=list)
    due_today: list[WorklistItem] = field(default_factory=list)
    this_week: list[WorklistItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.due_today) + len(self.this_week)

    def all(self) -> list[WorklistItem]:
        return self.overdue + self.due_today + self.this_week


def sort_key(item: WorklistItem) -> tuple[bool, date, int, int, int]:
    """High risk first, then the oldest due date, then the priority and the kind."""
    return (not item.high_risk, item.due_on, item.priority, KIND_ORDER.get(item.kind, 9), item.resident_id)


def split(items: Iterable[WorklistItem], today: date) -> Worklist:
    worklist = Worklist(today=today)
    for item in items:
        if item.due_on < today:
            worklist.overdue.append(item)
        elif item.due_on == today:
            worklist.due_today.append(item)
        else:
            worklist.this_week.append(item)
    for bucket in (worklist.overdue, worklist.due_today, worklist.this_week):
        bucket.sort(key=sort_key)
    return worklist


def build_worklist(
    staff: Staff, today: date, *, team: bool = False, kinds: set[str] | None = None
) -> Worklist:
    """The worklist of a doctor's panel (or their teams' with `team`): care's own items and those of
    the registered sources, due up to a week ahead."""
    until = today + timedelta(days=WEEK_DAYS)
    panel = panel_signings(staff, team=team)
    items: list[WorklistItem] = []
    for source in CARE_SOURCES:
        items.extend(source(panel, today, until))
    for registered in worklist_sources():
        items.extend(item for item in registered(staff, today) if item.due_on <= until)
    if kinds is not None:
        items = [item for item in items if item.kind in kinds]
    return split(items, today)
