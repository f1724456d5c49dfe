"""What the care records (健康管理) add to a resident's facts: programme enrolments and follow-ups,
community rehabilitation, yearly assessments, active contacts, 65+ care years and yearly reports."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from jiayi.care.choices import EnrolmentStatus, FollowUpChannel, Programme
from jiayi.care.models import (
    Assessment,
    Contact,
    ElderlyCareYear,
    FollowUp,
    ProgrammeEnrolment,
    YearlyReport,
)
from jiayi.indicators.scope import ResidentScope

FACE_TO_FACE_CHANNELS = (FollowUpChannel.CLINIC, FollowUpChannel.HOME_VISIT)
DONE = "done"
REACHED = "reached"


@dataclass
class CareInputs:
    # (resident, programme) → enrolment start dates in force on the reference date; the key exists
    # when the resident has any enrolment in the programme at all.
    enrolled_since: dict[tuple[int, str], date | None] = field(default_factory=dict)
    # (resident, programme) → day → reading (sbp, dbp) or (glucose,)
    readings: dict[tuple[int, str], dict[date, tuple[float, ...]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    assessed: set[int] = field(default_factory=set)
    contact_quarters: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    elderly_complete: set[int] = field(default_factory=set)
    report_sent: set[int] = field(default_factory=set)
    # Residents in community rehabilitation for a severe mental disorder at some time in the period.
    in_rehab: set[int] = field(default_factory=set)


def quarters_required(as_of: date) -> set[int]:
    """Quarters (1–4) that must each hold a contact: those fully elapsed by the reference date, or the
    current one while none has (operational choice for "every elapsed quarter")."""
    current = (as_of.month - 1) // 3 + 1
    last_month = 3 * current
    last_day = date(as_of.year, last_month, calendar.monthrange(as_of.year, last_month)[1])
    completed = current if as_of == last_day else current - 1
    return set(range(1, completed + 1)) or {current}


def _moment(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def load(scope: ResidentScope, start: date, as_of: date) -> CareInputs:
    inputs = CareInputs()
    for rid, programme, enrolled_on, status, ended_on in (
        ProgrammeEnrolment.objects.filter(**scope.of())
        .order_by()
        .values_list("resident_id", "programme", "enrolled_on", "status", "ended_on")
    ):
        if programme == Programme.MENTAL_REHAB:
            ended_before = status == EnrolmentStatus.ENDED and ended_on is not None and ended_on < start
            if enrolled_on <= as_of and not ended_before:
                inputs.in_rehab.add(rid)
            continue
        key = (rid, programme)
        inputs.enrolled_since.setdefault(key, None)
        ended = status == EnrolmentStatus.ENDED and ended_on is not None and ended_on <= as_of
        if enrolled_on <= as_of and not ended:
            current = inputs.enrolled_since[key]
            inputs.enrolled_since[key] = enrolled_on if current is None else min(current, enrolled_on)
    for rid, programme, performed_on, sbp, dbp, glucose in (
        FollowUp.objects.filter(
            **scope.of(),
            status=DONE,
            channel__in=FACE_TO_FACE_CHANNELS,
            performed_on__gte=start,
            performed_on__lte=as_of,
        )
        .order_by("performed_on", "id")
        .values_list("resident_id", "programme", "performed_on", "sbp", "dbp", "fasting_glucose_mmol")
    ):
        if performed_on is None:
            continue
        if programme == Programme.HYPERTENSION and sbp is not None and dbp is not None:
            inputs.readings[(rid, programme)][performed_on] = (float(sbp), float(dbp))
        elif programme == Programme.DIABETES and glucose is not None:
            inputs.readings[(rid, programme)][performed_on] = (float(glucose),)
    year_start = date(as_of.year, 1, 1)
    inputs.assessed = set(
        Assessment.objects.filter(
            **scope.of(), year=as_of.year, performed_on__gte=year_start, performed_on__lte=as_of
        )
        .order_by()
        .values_list("resident_id", flat=True)
    )
    end = _moment(as_of + timedelta(days=1))
    for rid, at in (
        Contact.objects.filter(**scope.of(), outcome=REACHED, at__gte=_moment(year_start), at__lt=end)
        .order_by()
        .values_list("resident_id", "at")
    ):
        day = timezone.localdate(at)
        inputs.contact_quarters[rid].add((day.month - 1) // 3 + 1)
    # A face-to-face or phone follow-up done is an active contact too.
    for rid, performed in (
        FollowUp.objects.filter(
            **scope.of(), status=DONE, performed_on__gte=year_start, performed_on__lte=as_of
        )
        .order_by()
        .values_list("resident_id", "performed_on")
    ):
        if performed is not None:
            inputs.contact_quarters[rid].add((performed.month - 1) // 3 + 1)
    inputs.elderly_complete = set(
        ElderlyCareYear.objects.filter(**scope.of(), year=as_of.year, complete=True, guidance_on__lte=as_of)
        .order_by()
        .values_list("resident_id", flat=True)
    )
    inputs.report_sent = set(
        YearlyReport.objects.filter(**scope.of(), year=as_of.year, generated_at__lt=end)
        .order_by()
        .values_list("resident_id", flat=True)
    )
    return inputs


WATCHED_MODELS = (Assessment, Contact, ElderlyCareYear, FollowUp, ProgrammeEnrolment, YearlyReport)
