"""Synthetic health management for a generated district: assessments with their plans, programme
enrolments from the histories' diagnoses, follow-ups with realistic adherence (a share of patients
stop coming, so their next visit is overdue), 65+ care years from the exam forms, and quarterly
contacts. Rows go in through `jiayi.synth.writer.insert_rows`; the same seed gives the same rows.

Needs a district made by `generate_district(cfg, signings=True, histories=True)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import numpy as np
from django.db import connection, transaction

from jiayi.care import plan, rules
from jiayi.care.models import (
    Assessment,
    Contact,
    ElderlyCareYear,
    FollowUp,
    PlanItem,
    ProgrammeEnrolment,
)
from jiayi.care.services import AssessmentInput, compute_risks, programme_for_code
from jiayi.records import lib
from jiayi.records.models import Condition, ElderlyExam
from jiayi.registry.identity import age_on
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

ASSESSED_SHARE: Final = 0.62  # signed residents with this year's assessment done
DROPOUT_SHARE: Final = 0.22  # patients who stop coming during the year: their next visit is overdue
MISSED_VISIT_SHARE: Final = 0.06
CONTACT_REACHED_SHARE: Final = 0.78
CONTACT_TRIED_SHARE: Final = 0.08
HISTORY_DAYS: Final = 365
SMOKING: Final = ("never", "former", "current")
SMOKING_P: Final = (0.68, 0.07, 0.25)
CHANNELS: Final = ("phone", "wechat", "visit", "online_message")
CHANNELS_P: Final = (0.45, 0.3, 0.15, 0.1)


def _aware(day: date, hour: int) -> str:
    """A local clinic hour as the text the database's datetime columns hold, in UTC (Shanghai is UTC+8
    all year)."""
    moment = datetime.combine(day, time(hour, 0), tzinfo=UTC) - timedelta(hours=8)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text + "+00:00" if connection.vendor == "postgresql" else text


def _signed(as_of: date) -> list[tuple[int, int, date, str, date]]:
    """(resident, family doctor, signing start, sex, birth date) of the signings active on as_of."""
    return list(
        Signing.objects.filter(
            status=SigningStatus.ACTIVE, starts_on__lte=as_of, resident__date_of_death__isnull=True
        )
        .order_by("resident_id")
        .values_list("resident_id", "family_doctor_id", "starts_on", "resident__sex", "resident__birth_date")
    )


def generate_care(config: SynthConfig, *, as_of: date, seed: int) -> dict[str, int]:
    """Generate the district's health management as of `as_of`; returns row counts per kind."""
    del config  # the district in the database is the source of truth
    rng = np.random.default_rng(seed)
    signed = _signed(as_of)
    counts: dict[str, int] = {}
    with transaction.atomic():
        counts.update(_assessments(signed, as_of, rng))
        counts.update(_programmes(signed, as_of, rng))
        counts["elderly_care_years"] = _elderly_years(as_of)
        counts["contacts"] = _contacts(signed, as_of, rng)
        for model in (Assessment, PlanItem, ProgrammeEnrolment, FollowUp, ElderlyCareYear, Contact):
            reset_sequence(model)
    return counts


# --- Assessments and plans ------------------------------------------------------------------------------


def _assessments(
    signed: list[tuple[int, int, date, str, date]], as_of: date, rng: np.random.Generator
) -> dict[str, int]:
    n = len(signed)
    chosen = np.flatnonzero(rng.random(n) < ASSESSED_SHARE)
    m = len(chosen)
    days_back = rng.integers(0, 300, m)
    smoking = rng.choice(len(SMOKING), m, p=SMOKING_P)
    sbp = rng.normal(128, 16, m).clip(95, 200).round()
    dbp = (sbp * 0.6 + rng.normal(2, 6, m)).clip(55, 120).round()
    height = rng.normal(165, 8, m).clip(140, 195)
    bmi = rng.normal(24, 3.3, m).clip(16, 40)
    waist = (bmi * 3.4 + rng.normal(2, 5, m)).clip(55, 130)
    tc = rng.normal(4.9, 0.9, m).clip(2.5, 9)
    hdl = rng.normal(1.3, 0.3, m).clip(0.6, 2.6)
    glucose = rng.lognormal(np.log(5.3), 0.12, m).clip(3.8, 12)
    family_dm = rng.random(m) < 0.15
    family_cvd = rng.random(m) < 0.12
    exercise = rng.choice(4, m, p=(0.3, 0.3, 0.25, 0.15))
    salt = rng.choice(3, m, p=(0.25, 0.5, 0.25))
    diagnosed = _diagnosed_residents()

    assessment_rows: list[tuple[Any, ...]] = []
    plan_rows: list[tuple[Any, ...]] = []
    assessment_id = next_id(Assessment)
    plan_id = next_id(PlanItem)
    for k, i in enumerate(chosen.tolist()):
        resident_id, doctor_id, _starts, sex, born = signed[i]
        performed_on = as_of - timedelta(days=int(days_back[k]))
        age = age_on(born, performed_on)
        codes = diagnosed.get(resident_id, set())
        weight = float(bmi[k]) * (float(height[k]) / 100) ** 2
        data = AssessmentInput(
            performed_on=performed_on,
            smoking=SMOKING[int(smoking[k])],
            cigarettes_per_day=10 if smoking[k] == 2 else 0,
            exercise=("none", "occasional", "weekly", "daily")[int(exercise[k])],
            salt_intake=("light", "medium", "heavy")[int(salt[k])],
            has_hypertension="hypertension" in codes,
            on_bp_treatment="hypertension" in codes,
            has_diabetes="diabetes" in codes,
            family_history_ascvd=bool(family_cvd[k]),
            family_history_diabetes=bool(family_dm[k]),
            height_cm=round(float(height[k]), 1),
            weight_kg=round(weight, 1),
            bmi=round(float(bmi[k]), 1),
            waist_cm=round(float(waist[k]), 1),
            sbp=int(sbp[k]),
            dbp=int(min(dbp[k], sbp[k] - 20)),
            fasting_glucose_mmol=round(float(glucose[k]), 1),
            total_cholesterol_mmol=round(float(tc[k]), 2),
            hdl_mmol=round(float(hdl[k]), 2),
        )
        result = compute_risks(sex=sex, age=age, data=data, under_management=bool(codes))
        pk = assessment_id + len(assessment_rows)
        assessment_rows.append(
            (
                pk,
                resident_id,
                performed_on.year,
                performed_on,
                doctor_id,
                data.smoking,
                data.cigarettes_per_day,
                "never",
                data.exercise,
                "balanced",
                data.salt_intake,
                "[]",
                json.dumps(sorted(codes)),
                data.on_bp_treatment,
                data.has_hypertension,
                data.has_diabetes,
                False,
                None,
                False,
                data.family_history_ascvd,
                data.family_history_diabetes,
                False,
                "independent",
                True,
                False,
                data.height_cm,
                data.weight_kg,
                data.bmi,
                data.waist_cm,
                data.sbp,
                data.dbp,
                None,
                data.fasting_glucose_mmol,
                data.total_cholesterol_mmol,
                data.hdl_mmol,
                result.china_par_risk,
                result.diabetes_score,
                result.hypertension_stratum,
                result.classification.value,
                _aware(performed_on, 10),
            )
        )
        entries = plan.build_plan(
            plan.PlanInputs(
                performed_on=performed_on,
                age=age,
                classification=result.classification,
                smoker=data.smoking == "current",
                drinks_daily=False,
                exercises_rarely=data.exercise in ("none", "occasional"),
                salt_heavy=data.salt_intake == "heavy",
                bmi=data.bmi,
                sbp=data.sbp,
                fasting_glucose_mmol=data.fasting_glucose_mmol,
                total_cholesterol_mmol=data.total_cholesterol_mmol,
                diabetes_score=result.diabetes_score,
                china_par_risk=result.china_par_risk,
                has_hypertension=data.has_hypertension,
                has_diabetes=data.has_diabetes,
            )
        )
        for entry in entries:
            done = entry.due_on <= as_of and rng.random() < 0.5
            plan_rows.append(
                (
                    plan_id + len(plan_rows),
                    resident_id,
                    pk,
                    entry.kind,
                    entry.code,
                    entry.text,
                    entry.due_on,
                    entry.due_on if done else None,
                )
            )
    columns = [
        "id", "resident_id", "year", "performed_on", "performed_by_id", "smoking", "cigarettes_per_day",
        "drinking", "exercise", "diet", "salt_intake", "symptoms", "history", "on_bp_treatment",
        "has_hypertension", "has_diabetes", "prior_stroke_or_mi", "ckd_stage", "discharged_or_in_rehab",
        "family_history_ascvd", "family_history_diabetes", "family_history_hypertension", "self_care_ability",
        "urban", "north", "height_cm", "weight_kg", "bmi", "waist_cm", "sbp", "dbp", "heart_rate",
        "fasting_glucose_mmol", "total_cholesterol_mmol", "hdl_mmol", "china_par_risk", "diabetes_score",
        "hypertension_stratum", "classification", "created_at",
    ]  # fmt: skip
    return {
        "assessments": insert_rows(Assessment, columns, assessment_rows),
        "plan_items": insert_rows(
            PlanItem,
            ["id", "resident_id", "assessment_id", "kind", "code", "text", "due_on", "done_on"],
            plan_rows,
        ),
    }


def _diagnosed_residents() -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    rows = Condition.objects.filter(clinical_status="active").values_list("resident_id", "code")
    for resident_id, code in rows.iterator(chunk_size=20_000):
        programme = programme_for_code(code)
        if programme is not None:
            found.setdefault(resident_id, set()).add(programme)
    return found


# --- Programmes and follow-ups --------------------------------------------------------------------------


def _conditions(signed_ids: set[int]) -> Iterator[tuple[int, int, str, date | None]]:
    seen: set[tuple[int, str]] = set()
    rows = (
        Condition.objects.filter(clinical_status="active")
        .order_by("resident_id", "id")
        .values_list("id", "resident_id", "code", "recorded_date")
    )
    for pk, resident_id, code, recorded in rows.iterator(chunk_size=20_000):
        programme = programme_for_code(code)
        if programme is None or resident_id not in signed_ids or (resident_id, programme) in seen:
            continue
        seen.add((resident_id, programme))
        yield pk, resident_id, code, recorded


def _programmes(
    signed: list[tuple[int, int, date, str, date]], as_of: date, rng: np.random.Generator
) -> dict[str, int]:
    by_resident = {row[0]: row for row in signed}
    enrolment_rows: list[tuple[Any, ...]] = []
    follow_rows: list[tuple[Any, ...]] = []
    enrolment_id = next_id(ProgrammeEnrolment)
    follow_id = next_id(FollowUp)
    start = as_of - timedelta(days=HISTORY_DAYS)
    for condition_id, resident_id, code, recorded in _conditions(set(by_resident)):
        programme = programme_for_code(code)
        assert programme is not None
        _rid, doctor_id, _starts, _sex, born = by_resident[resident_id]
        enrolled_on = recorded if recorded is not None and recorded <= as_of else start
        enrolled_on = min(enrolled_on, as_of - timedelta(days=14))
        pk = enrolment_id + len(enrolment_rows)
        enrolment_rows.append(
            (pk, resident_id, programme, enrolled_on, doctor_id, condition_id, code, "active", None, "")
        )
        hypertension = programme == "hypertension"
        mean = rng.normal(136, 9) if hypertension else float(rng.lognormal(np.log(6.9), 0.15))
        dropout = (
            as_of - timedelta(days=int(rng.integers(20, HISTORY_DAYS)))
            if rng.random() < DROPOUT_SHARE
            else None
        )
        day = max(enrolled_on + timedelta(days=14), start + timedelta(days=int(rng.integers(0, 90))))
        previous: rules.FollowUpClass | None = None
        while True:
            if day > as_of or (dropout is not None and day > dropout):
                # The visit nobody has made yet: due in the future, or overdue for a dropout.
                follow_rows.append(_follow_row(follow_id + len(follow_rows), pk, resident_id, programme, day))
                break
            if rng.random() < MISSED_VISIT_SHARE:
                follow_rows.append(
                    _follow_row(
                        follow_id + len(follow_rows), pk, resident_id, programme, day, status="missed"
                    )
                )
                day += timedelta(days=30)
                continue
            age = age_on(born, day)
            sbp: int | None
            dbp: int | None
            glucose: float | None
            if hypertension:
                sbp = int(np.clip(rng.normal(mean, 11), 95, 200))
                dbp = int(np.clip(sbp * 0.6 + rng.normal(2, 5), 55, sbp - 20))
                glucose = None
                cls = rules.classify_hypertension_follow_up(
                    sbp=sbp, dbp=dbp, age=max(age, 18), previous_classification=previous,
                    adverse_reaction=False, new_or_worse_complication=False,
                )  # fmt: skip
            else:
                sbp = dbp = None
                glucose = round(float(np.clip(rng.normal(mean, 1.0), 3.5, 20)), 1)
                cls = rules.classify_diabetes_follow_up(
                    fasting_glucose_mmol=glucose, previous_classification=previous,
                    adverse_reaction=False, new_or_worse_complication=False,
                )  # fmt: skip
            next_on = rules.next_visit_date(cls, day)
            adherence = "regular" if rng.random() < 0.7 else "intermittent"
            follow_rows.append(
                _follow_row(
                    follow_id + len(follow_rows), pk, resident_id, programme, day, status="done",
                    performed_by=doctor_id, sbp=sbp, dbp=dbp, glucose=glucose, cls=cls.value,
                    next_on=next_on, adherence=adherence,
                )
            )  # fmt: skip
            previous = cls
            day = next_on
    return {
        "enrolments": insert_rows(
            ProgrammeEnrolment,
            [
                "id",
                "resident_id",
                "programme",
                "enrolled_on",
                "enrolled_by_id",
                "source_condition_id",
                "source_code",
                "status",
                "ended_on",
                "end_reason",
            ],
            enrolment_rows,
        ),
        "follow_ups": insert_rows(FollowUp, FOLLOW_UP_COLUMNS, follow_rows),
    }


FOLLOW_UP_COLUMNS: Final = [
    "id", "enrolment_id", "resident_id", "programme", "scheduled_on", "rescheduled_from", "performed_on",
    "channel", "performed_by_id", "sbp", "dbp", "fasting_glucose_mmol", "heart_rate", "symptoms",
    "medication_adherence", "adverse_reaction", "adverse_reaction_note", "new_or_worse_complication",
    "lifestyle", "classification", "emergency_reasons", "next_visit_on", "status", "note",
]  # fmt: skip


def _follow_row(
    pk: int,
    enrolment_id: int,
    resident_id: int,
    programme: str,
    day: date,
    *,
    status: str = "scheduled",
    performed_by: int | None = None,
    sbp: int | None = None,
    dbp: int | None = None,
    glucose: float | None = None,
    cls: str = "",
    next_on: date | None = None,
    adherence: str = "",
) -> tuple[Any, ...]:
    done = status == "done"
    return (
        pk, enrolment_id, resident_id, programme, day, None, day if done else None,
        "clinic" if done else "", performed_by, sbp, dbp, glucose, None, "[]", adherence, False, "", False,
        "{}", cls, "[]", next_on, status, "",
    )  # fmt: skip


# --- 65+ care years and contacts ----------------------------------------------------------------------------


def _elderly_years(as_of: date) -> int:
    """One care year per examined 65+ resident and year, from their exam forms of that year."""
    best: dict[tuple[int, int], tuple[bool, date, int, dict[str, date | None]]] = {}
    rows = ElderlyExam.objects.filter(exam_date__lte=as_of).values_list(
        "id", "resident_id", "exam_date", "assessment", "physical", "tests", "guidance"
    )
    for pk, resident_id, exam_date, *answers in rows.order_by("exam_date", "id").iterator(chunk_size=10_000):
        parts = dict(zip(lib.ELDERLY_EXAM_PARTS, answers, strict=True))
        missing = set(lib.elderly_exam_missing(parts))
        key = (resident_id, exam_date.year)
        known = best.get(key)
        dates: dict[str, date | None] = dict(known[3]) if known else dict.fromkeys(lib.ELDERLY_EXAM_PARTS)
        for part, items in lib.ELDERLY_EXAM_PARTS.items():
            if not any(f"{part}.{item}" in missing for item in items):
                dates[part] = exam_date
        complete = not missing
        if known is None or complete or not known[0]:
            best[key] = (complete, exam_date, pk, dates)
        else:
            best[key] = (*known[:3], dates)
    first = next_id(ElderlyCareYear)
    out = [
        (
            first + n,
            resident_id,
            year,
            pk,
            d["assessment"],
            d["physical"],
            d["tests"],
            d["guidance"],
            complete,
        )
        for n, ((resident_id, year), (complete, _day, pk, d)) in enumerate(sorted(best.items()))
    ]
    return insert_rows(
        ElderlyCareYear,
        ["id", "resident_id", "year", "exam_id", "lifestyle_assessed_on", "physical_exam_on", "tests_on",
         "guidance_on", "complete"],
        out,
    )  # fmt: skip


def _contacts(signed: list[tuple[int, int, date, str, date]], as_of: date, rng: np.random.Generator) -> int:
    """Contacts in the last four quarters up to as_of: most residents reached once a quarter, some only
    tried, some not contacted at all."""
    year, quarter = plan.quarter_of(as_of)
    quarters = []
    for back in range(4):
        q_year, q = year, quarter - back
        while q < 1:
            q, q_year = q + 4, q_year - 1
        quarters.append(plan.quarter_bounds(q_year, q))
    rows: list[tuple[Any, ...]] = []
    first = next_id(Contact)
    n = len(signed)
    for q_start, q_end in quarters:
        end = min(q_end, as_of)
        span = max(1, (end - q_start).days + 1)
        draw = rng.random(n)
        days = rng.integers(0, span, n)
        channels = rng.choice(len(CHANNELS), n, p=CHANNELS_P)
        hours = rng.integers(9, 17, n)
        for i in np.flatnonzero(draw < CONTACT_REACHED_SHARE + CONTACT_TRIED_SHARE).tolist():
            resident_id, doctor_id, starts, _sex, _born = signed[i]
            day = q_start + timedelta(days=int(days[i]))
            if day < starts:
                continue
            outcome = "reached" if draw[i] < CONTACT_REACHED_SHARE else "unreachable"
            rows.append(
                (first + len(rows), resident_id, doctor_id, _aware(day, int(hours[i])),
                 CHANNELS[int(channels[i])], outcome, "")
            )  # fmt: skip
    return insert_rows(Contact, ["id", "resident_id", "staff_id", "at", "channel", "outcome", "note"], rows)
