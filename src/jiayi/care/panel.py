"""Building a family doctor's worklist (工作清单) from their signed panel.

The panel is read once (one indexed query on the doctor's active signings, about 2,000 rows) and every
kind of item is then one query restricted to the panel's residents, so a 2,000-resident panel costs the
same handful of index lookups whether the district has 20,000 or 1,000,000 residents: no query scans a
whole table or joins the district's signings. Due dates are operational choices, documented beside each
source.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_
from typing import Any, Final

from django.db.models import Exists, F, Lookup, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from jiayi.care import plan, rules
from jiayi.care.choices import CareTaskKind, CareTaskStatus, ContactOutcome, FollowUpStatus
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
# Up to this many residents the panel's ids are sent as one array (an index lookup per resident); a
# larger team panel is matched by a subquery on its signings instead, which the planner can hash-join.
PANEL_IDS_INLINE_MAX: Final = 5_000

KIND_ORDER: Final = {
    "urgent": 0,
    "home_visit": 1,
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


@dataclass(frozen=True, slots=True)
class PanelMember:
    """One active signing of the panel, with what the sources need of it."""

    signing_id: int
    resident_id: int
    starts_on: date
    ends_on: date
    birth_date: date


@dataclass(frozen=True)
class Panel:
    """A doctor's (or team's) panel read once: its signings and how to match its residents in a query."""

    members: Sequence[PanelMember]
    signings: QuerySet[Signing]

    @classmethod
    def of(cls, staff: Staff, *, team: bool = False) -> Panel:
        signings = panel_signings(staff, team=team)
        rows = signings.values_list("id", "resident_id", "starts_on", "ends_on", "resident__birth_date")
        return cls(members=[PanelMember(*row) for row in rows], signings=signings)

    @property
    def resident_ids(self) -> list[int]:
        return [member.resident_id for member in self.members]

    def residents(self, ids: Iterable[int] | None = None) -> Q:
        """A filter on a model's `resident` to the panel's residents, or to `ids` of them.

        Past `PANEL_IDS_INLINE_MAX` ids it matches the whole panel by a subquery, so callers treat the
        rows as a superset of `ids`.
        """
        chosen = self.resident_ids if ids is None else list(ids)
        if len(chosen) <= PANEL_IDS_INLINE_MAX:
            return Q(AnyOf(F("resident_id"), chosen))
        return Q(resident__in=self.signings.values("resident"))


class AnyOf(Lookup[int]):
    """`column` is one of a list of ids, sent as one parameter rather than one per id.

    `__in` with a 2,000-resident panel builds, quotes and parses 2,000 parameters in every query, which
    costs more than the index lookups it asks for; an array (PostgreSQL) or a JSON list (SQLite) is one.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [int(pk) for pk in self.rhs]
        if connection.vendor == "postgresql":
            # An array literal as text: the driver quotes one string instead of adapting 2,000 ints.
            literal = "{" + ",".join(map(str, ids)) + "}"
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, literal]
        # `lhs` is the compiled column, never input; the ids are a parameter.
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, json.dumps(ids)]  # noqa: S608


def _stroke_or_mi() -> Q:
    # Codes are stored normalised (upper case, `records.lib.normalise_icd10`), so a plain prefix match
    # keeps the (resident, code) index usable.
    return reduce(or_, (Q(code__startswith=prefix) for prefix in STROKE_OR_MI_PREFIXES))


def _url_maker(name: str) -> Callable[[int], str]:
    """reverse() once per list, not once per item: a 2,000-resident panel has thousands of items."""
    template = reverse(name, args=[987654321])
    head, tail = template.split("987654321")
    return lambda pk: f"{head}{pk}{tail}"


FOLLOW_UP_TITLES: Final = {"hypertension": "高血压随访", "diabetes": "糖尿病随访"}


def follow_up_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Scheduled follow-ups due by `until`; high risk by `rules.high_risk_overdue` on the last BP.

    Days overdue count from the first planned date: moving a missed visit (a reschedule, or the next
    attempt after the resident could not be reached) does not make a high-risk patient less urgent.
    """
    rows = list(
        FollowUp.objects.filter(panel.residents(), status=FollowUpStatus.SCHEDULED, scheduled_on__lte=until)
        .order_by()
        .values_list("id", "resident_id", "enrolment_id", "programme", "scheduled_on", "rescheduled_from")
    )

    def first_planned(scheduled_on: date, rescheduled_from: date | None) -> date:
        return min(scheduled_on, rescheduled_from or scheduled_on)

    # Only a follow-up overdue more than 30 days can be high risk, so the last BP and the history of
    # stroke or MI are read for those alone: a second, small query rather than two subqueries per row.
    long_overdue = [
        pk
        for pk, _r, _e, _p, scheduled_on, rescheduled_from in rows
        if rules.overdue_days(first_planned(scheduled_on, rescheduled_from), today)
        > rules.HIGH_RISK_OVERDUE_AFTER_DAYS
    ]
    history: dict[int, tuple[int | None, int | None, bool]] = {}
    if long_overdue:
        last_done = FollowUp.objects.filter(
            enrolment=OuterRef("enrolment"), status=FollowUpStatus.DONE, sbp__isnull=False
        ).order_by("-performed_on", "-id")
        for pk, last_sbp, last_dbp, stroke_or_mi in (
            FollowUp.objects.filter(pk__in=long_overdue)
            .order_by()
            .annotate(
                last_sbp=Subquery(last_done.values("sbp")[:1]),
                last_dbp=Subquery(last_done.values("dbp")[:1]),
                stroke_or_mi=Exists(Condition.objects.filter(_stroke_or_mi(), resident=OuterRef("resident"))),
            )
            .values_list("id", "last_sbp", "last_dbp", "stroke_or_mi")
        ):
            history[pk] = (last_sbp, last_dbp, stroke_or_mi)
    items = []
    url = _url_maker("care:follow_up")
    for pk, resident_id, _enrolment, programme, scheduled_on, rescheduled_from in rows:
        last_sbp, last_dbp, stroke_or_mi = history.get(pk, (None, None, False))
        high = rules.high_risk_overdue(
            days_overdue=rules.overdue_days(first_planned(scheduled_on, rescheduled_from), today),
            last_sbp=last_sbp,
            last_dbp=last_dbp,
            prior_stroke_or_mi=stroke_or_mi,
        )
        items.append(
            WorklistItem(
                kind="follow_up",
                resident_id=resident_id,
                due_on=scheduled_on,
                title=FOLLOW_UP_TITLES.get(programme, "随访"),
                priority=0 if high else 1,
                url=url(pk),
                high_risk=high,
            )
        )
    return items


def assessment_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Residents without an assessment since their signing period started, due 60 days into it."""
    resident_url = _url_maker("care:resident")
    latest_start = until - timedelta(days=ASSESSMENT_DUE_AFTER_START_DAYS)
    waiting = {m.resident_id: m.starts_on for m in panel.members if m.starts_on <= latest_start}
    if not waiting:
        return []
    earliest = min(waiting.values())
    done = set()
    for resident_id, performed_on in (
        Assessment.objects.filter(panel.residents(ids=waiting), performed_on__gte=earliest)
        .order_by()
        .values_list("resident_id", "performed_on")
    ):
        if resident_id in waiting and performed_on >= waiting[resident_id]:
            done.add(resident_id)
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
        for resident_id, starts_on in waiting.items()
        if resident_id not in done
    ]


def _birthday_in(year: int, born: date) -> date:
    if born.month == 2 and born.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, born.month, born.day)


def elderly_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Residents turning 65 or older this year without a complete 65+ care year; due on their
    birthday this year (operational choice: spreads the exams over the year)."""
    resident_url = _url_maker("care:resident")
    year = today.year
    born_before = date(year - plan.ELDERLY_FROM_AGE + 1, 1, 1)
    due = {
        m.resident_id: _birthday_in(year, m.birth_date)
        for m in panel.members
        if m.birth_date < born_before and _birthday_in(year, m.birth_date) <= until
    }
    if not due:
        return []
    complete = set(
        ElderlyCareYear.objects.filter(panel.residents(ids=due), year=year, complete=True)
        .order_by()
        .values_list("resident_id", flat=True)
    )
    return [
        WorklistItem(
            kind="elderly_exam",
            resident_id=resident_id,
            due_on=due_on,
            title="老年人健康体检",
            priority=3,
            url=resident_url(resident_id) + "#elderly",
            high_risk=False,
        )
        for resident_id, due_on in due.items()
        if resident_id not in complete
    ]


def contact_due_on(today: date) -> date:
    """When this quarter's contact is due: the last day of the quarter's second month."""
    year, quarter = plan.quarter_of(today)
    start, _end = plan.quarter_bounds(year, quarter)
    month = start.month + CONTACT_DUE_MONTH_OF_QUARTER
    return date(year, month, 1) - timedelta(days=1)


def contact_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Signed residents not yet reached this quarter. An unreachable attempt does not count as a
    contact, but it puts the resident aside until the next attempt is due (`rules.next_attempt_on`)."""
    resident_url = _url_maker("care:resident")
    due_on = contact_due_on(today)
    if due_on > until:
        return []
    start, _end = plan.quarter_bounds(*plan.quarter_of(today))
    tz = timezone.get_current_timezone()
    # Ranges on the stored timestamp, not on its date, so the (resident, at) index serves them.
    since = datetime.combine(start, time.min, tzinfo=tz)
    retry_since = datetime.combine(today - timedelta(days=rules.RETRY_AFTER_DAYS - 1), time.min, tzinfo=tz)
    # One query for the three ways a resident leaves this list.
    settled = (
        Contact.objects.filter(panel.residents(), outcome=ContactOutcome.REACHED, at__gte=since)
        .order_by()
        .values_list("resident_id")
        .union(
            Contact.objects.filter(
                panel.residents(), outcome=ContactOutcome.UNREACHABLE, at__gte=max(since, retry_since)
            )
            .order_by()
            .values_list("resident_id"),
            FollowUp.objects.filter(panel.residents(), status=FollowUpStatus.DONE, performed_on__gte=start)
            .order_by()
            .values_list("resident_id"),
        )
    )
    done = {resident_id for (resident_id,) in settled}
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
        for resident_id in dict.fromkeys(panel.resident_ids)
        if resident_id not in done
    ]


def renewal_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Signings ending within a month (plus the week ahead) that nobody has renewed."""
    signing_url = _url_maker("signing:detail")
    ending = [m for m in panel.members if m.ends_on <= until + timedelta(days=RENEWAL_LEAD_DAYS)]
    if not ending:
        return []
    renewed = set(
        Signing.objects.filter(previous_id__in=[m.signing_id for m in ending])
        .order_by()
        .values_list("previous_id", flat=True)
    )
    return [
        WorklistItem(
            kind="renewal",
            resident_id=m.resident_id,
            due_on=m.ends_on - timedelta(days=RENEWAL_LEAD_DAYS),
            title="签约即将到期，待续约",
            priority=6,
            url=signing_url(m.signing_id),
            high_risk=False,
        )
        for m in ending
        if m.signing_id not in renewed
    ]


TASK_ITEMS: Final[dict[str, tuple[str, str, int, bool]]] = {
    # kind of task: (worklist kind, title, priority, high risk)
    CareTaskKind.EMERGENCY_REFERRAL: ("urgent", "紧急转诊待处理", 0, True),
    CareTaskKind.REFERRAL: ("urgent", "转诊待处理", 0, True),
    CareTaskKind.HOME_VISIT: ("home_visit", "多次未联系上，安排上门随访", 1, False),
}


def urgent_items(panel: Panel, today: date, until: date) -> list[WorklistItem]:
    """Open tasks of the panel's residents: emergency referrals (always high risk) and home visits
    for residents who could not be reached."""
    resident_url = _url_maker("care:resident")
    rows = (
        CareTask.objects.filter(panel.residents(), status=CareTaskStatus.OPEN, due_on__lte=until)
        .order_by()
        .values_list("id", "resident_id", "due_on", "kind")
    )
    items = []
    for pk, resident_id, due_on, task_kind in rows:
        kind, title, priority, high = TASK_ITEMS.get(task_kind, TASK_ITEMS[CareTaskKind.EMERGENCY_REFERRAL])
        items.append(
            WorklistItem(
                kind=kind,
                resident_id=resident_id,
                due_on=due_on,
                title=title,
                priority=priority,
                url=resident_url(resident_id) + f"#task-{pk}",
                high_risk=high,
            )
        )
    return items


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
    panel = Panel.of(staff, team=team)
    items: list[WorklistItem] = []
    if panel.members:
        for source in CARE_SOURCES:
            items.extend(source(panel, today, until))
    for registered in worklist_sources():
        items.extend(item for item in registered(staff, today) if item.due_on <= until)
    if kinds is not None:
        items = [item for item in items if item.kind in kinds]
    return split(items, today)
