"""Severe mental disorders (严重精神障碍) in the synthetic district: the patients on the register and those
in community rehabilitation (社区康复), which `mental.community_rehab_coverage` counts.

Operational choices (the spec gives the target, not the figures): 4.5‰ of living residents aged 15+
are registered patients (the national registration target for severe mental disorders); diagnoses from
the disorders on the register in the shares below; onset 1–20 years before the reference date. Of the
patients, 65% are enrolled in the community rehabilitation programme (the district's target is 70%,
which not every centre reaches) one to twelve months after their diagnosis, and a few of those have
declined to continue.
The draws come from their own random stream, so every other generated figure stays as it was.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from jiayi.care.choices import EnrolmentEndReason, EnrolmentStatus, Programme
from jiayi.care.models import ProgrammeEnrolment
from jiayi.records.choices import ClinicalStatus
from jiayi.records.models import Condition
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place, Resident
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

MENTAL_STREAM = 0x3E27
SOURCE_SYSTEM = "synth-mental"
PREVALENCE = 0.0045
MIN_AGE = 15
REHAB_SHARE = 0.65
ENDED_SHARE = 0.08  # of those enrolled, rehabilitation ended before the reference date
# (ICD-10 code, display, share of patients)
DIAGNOSES: tuple[tuple[str, str, float], ...] = (
    ("F20.0", "偏执型精神分裂症", 0.55),
    ("F31.9", "双相情感障碍", 0.20),
    ("F22.0", "偏执性精神障碍", 0.10),
    ("F25.9", "分裂情感性障碍", 0.08),
    ("F29", "未特指的非器质性精神病", 0.07),
)


CONDITION_COLUMNS = (
    "id",
    "resident_id",
    "institution_id",
    "source_system",
    "source_id",
    "received_at",
    "code",
    "display",
    "clinical_status",
    "onset_date",
    "recorded_date",
    "encounter_id",
)


def _birth_limit(as_of: date) -> date:
    try:
        return as_of.replace(year=as_of.year - MIN_AGE)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - MIN_AGE, day=28)


@transaction.atomic
def generate_mental_health(config: SynthConfig, *, as_of: date, seed: int) -> dict[str, int]:
    """Register severe mental disorder patients and enrol most in community rehabilitation; returns
    counts per kind."""
    del config  # the residents in the database are the source of truth
    rng = np.random.default_rng([seed, MENTAL_STREAM])
    centre_of = dict(
        Place.objects.filter(level=PlaceLevel.COMMITTEE, responsible_centre__isnull=False).values_list(
            "id", "responsible_centre_id"
        )
    )
    candidates = [
        (rid, centre_of[committee])
        for rid, committee in Resident.objects.filter(
            birth_date__lte=_birth_limit(as_of), committee__isnull=False
        )
        .exclude(date_of_death__lte=as_of)
        .order_by("id")
        .values_list("id", "committee_id")
        if committee in centre_of
    ]
    chosen = np.flatnonzero(rng.random(len(candidates)) < PREVALENCE)
    shares = np.array([share for _, _, share in DIAGNOSES])
    kinds = rng.choice(len(DIAGNOSES), size=len(chosen), p=shares / shares.sum())
    years_ill = rng.uniform(1, 20, len(chosen))
    enrolled = rng.random(len(chosen)) < REHAB_SHARE
    ended = rng.random(len(chosen)) < ENDED_SHARE
    lag_days = rng.integers(30, 365, len(chosen))
    received = timezone.make_aware(datetime.combine(as_of, time(6, 0)))
    conditions: list[Condition] = []
    first_id = next_id(Condition)
    for at, (index, kind) in enumerate(zip(chosen.tolist(), kinds.tolist(), strict=True)):
        resident_id, centre_id = candidates[index]
        code, display, _share = DIAGNOSES[kind]
        onset = as_of - timedelta(days=int(years_ill[at] * 365))
        conditions.append(
            Condition(
                id=first_id + at,
                resident_id=resident_id,
                institution_id=centre_id,
                source_system=SOURCE_SYSTEM,
                source_id=f"SMD{resident_id:010d}",
                received_at=received,
                code=code,
                display=display,
                clinical_status=ClinicalStatus.ACTIVE,
                onset_date=onset,
                recorded_date=onset,
            )
        )
    # Through the generator's writer, like the other histories: it gives the encrypted diagnosis text a
    # nonce derived from the row, so the same seed writes the same bytes.
    ops = connection.ops
    insert_rows(
        Condition,
        CONDITION_COLUMNS,
        (
            (
                c.pk,
                c.resident_id,
                c.institution_id,
                c.source_system,
                c.source_id,
                ops.adapt_datetimefield_value(c.received_at),
                c.code,
                c.display,
                c.clinical_status,
                ops.adapt_datefield_value(c.onset_date),
                ops.adapt_datefield_value(c.recorded_date),
                None,
            )
            for c in conditions
        ),
    )
    reset_sequence(Condition)
    enrolments: list[ProgrammeEnrolment] = []
    for at, condition in enumerate(conditions):
        if not enrolled[at]:
            continue
        assert condition.onset_date is not None
        enrolled_on = min(condition.onset_date + timedelta(days=int(lag_days[at])), as_of)
        stop = bool(ended[at]) and enrolled_on < as_of - timedelta(days=1)
        enrolments.append(
            ProgrammeEnrolment(
                resident_id=condition.resident_id,
                programme=Programme.MENTAL_REHAB,
                enrolled_on=enrolled_on,
                source_condition=condition,
                source_code=condition.code,
                status=EnrolmentStatus.ENDED if stop else EnrolmentStatus.ACTIVE,
                ended_on=enrolled_on + (as_of - enrolled_on) // 2 if stop else None,
                end_reason=EnrolmentEndReason.DECLINED if stop else "",
            )
        )
    ProgrammeEnrolment.objects.bulk_create(enrolments, batch_size=2000)
    return {
        "severe mental disorder patients": len(conditions),
        "in community rehabilitation": len(enrolments),
    }
