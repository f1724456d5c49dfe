"""Several years of synthetic health-account history for a generated district.

Who has what follows the spec's figures (`shared/spec/indicators.md`): adult hypertension ≈28%
(≈56–62% among those 60+) and type-2 diabetes ≈11–12% of adults, by age band below. Each patient is
controlled or not, and their readings agree: a controlled hypertensive's clinic readings stay under
140/90, an uncontrolled one's mostly above. Patients are followed at their committee's centre or one of
its stations; other visits go to centres and hospitals; a realistic share of the 65+ get their yearly
exam form; some adults measure themselves at smart health posts.

Vectorised with numpy and written with `insert_rows` (executemany / COPY): a few entries per resident,
so a million residents take well under a minute. Deterministic: its own random stream, derived from
the configuration's seed, so adding histories changes nothing else the generator writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import numpy as np
from django.db import connection

from jiayi.records.choices import ClinicalStatus, EncounterType, MedicationKind, MedicationStatus
from jiayi.records.lib import ELDERLY_EXAM_PARTS
from jiayi.records.models import Condition, ElderlyExam, Encounter, Medication, Observation
from jiayi.registry.choices import InstitutionKind
from jiayi.registry.models import Institution, Place, Resident
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

SOURCE_SYSTEM = "synth"
YEARS = 3
# Prevalence by age band (lower bound of the band, share). Hypertension: 58% of the 60+ (spec ≈56–62%),
# lower bands set so that all adults come to ≈28% with the district's age mix. Diabetes likewise ≈11–12%.
HYPERTENSION_BY_AGE = ((18, 0.04), (35, 0.14), (45, 0.27), (60, 0.58))
DIABETES_BY_AGE = ((18, 0.02), (35, 0.07), (45, 0.13), (60, 0.21))
HYPERTENSION_CONTROLLED = 0.55
DIABETES_CONTROLLED = 0.50
# Clinic follow-ups with readings, of the ≥4 a year the spec asks: a series per patient that shows their
# control status while keeping a million residents to a few readings each (health posts add more).
FOLLOW_UPS_PER_YEAR = 1
ELDERLY_EXAM_SHARE = 0.62  # 65+ residents examined in a given year
OTHER_VISITS_PER_YEAR = 0.15
HEALTH_POST_USERS = 0.08  # adults who measure themselves at a smart health post
EXAM_COMPLETE_SHARE = 0.9
HOSPITAL_KINDS = (
    InstitutionKind.DISTRICT_HOSPITAL,
    InstitutionKind.REGIONAL_MEDICAL_CENTRE,
    InstitutionKind.MUNICIPAL_HOSPITAL,
)


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


@dataclass(slots=True)
class HistorySummary:
    encounters: int = 0
    conditions: int = 0
    observations: int = 0
    medications: int = 0
    elderly_exams: int = 0
    hypertension: int = 0
    diabetes: int = 0


@dataclass(slots=True)
class _People:
    ids: np.ndarray
    age: np.ndarray
    centre: np.ndarray  # institution id of the committee's centre
    station: np.ndarray  # a station (or the centre) where the resident is followed


def _by_age(age: np.ndarray, bands: tuple[tuple[int, float], ...]) -> np.ndarray:
    share = np.zeros(len(age))
    for low, value in bands:
        share[age >= low] = value
    return share


def _people(cfg: SynthConfig, rng: np.random.Generator) -> _People:
    """Living residents who live here, with their age at `as_of` and where they are looked after."""
    rows = list(
        Resident.objects.filter(is_resident=True)
        .exclude(date_of_death__lte=cfg.as_of)
        .order_by("id")
        .values_list("id", "birth_date", "committee_id")
    )
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    birth = np.array([r[1].toordinal() for r in rows], dtype=np.int64)
    committee = np.array([r[2] or 0 for r in rows], dtype=np.int64)
    age = ((cfg.as_of.toordinal() - birth) / 365.2425).astype(np.int64)
    centre_of = dict(
        Place.objects.filter(responsible_centre__isnull=False).values_list("id", "responsible_centre_id")
    )
    fallback = Institution.objects.filter(kind=InstitutionKind.COMMUNITY_HEALTH_CENTRE).order_by("id").first()
    default_centre = fallback.pk if fallback is not None else 0
    top = int(committee.max(initial=0)) + 1
    lookup = np.full(top, default_centre, dtype=np.int64)
    for place, institution in centre_of.items():
        if place < top:
            lookup[place] = institution
    centre = lookup[committee]
    # Each centre's stations; a resident is followed at one of them or, where there is none, the centre.
    stations: dict[int, list[int]] = {}
    for pk, parent in Institution.objects.filter(kind=InstitutionKind.STATION).values_list("id", "parent_id"):
        if parent is not None:
            stations.setdefault(parent, []).append(pk)
    station = centre.copy()
    pick = rng.random(len(ids))
    for centre_id, own in stations.items():
        mask = centre == centre_id
        choices = np.array([centre_id, *sorted(own)], dtype=np.int64)
        station[mask] = choices[(pick[mask] * len(choices)).astype(np.int64)]
    return _People(ids, age, centre, station)


def _timestamps(seconds: np.ndarray) -> list[str]:
    """Epoch seconds (UTC) as the text the database's datetime columns hold."""
    text = np.char.replace(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "T", " ")
    if connection.vendor == "postgresql":
        text = np.char.add(text, "+00:00")
    return list(text.tolist())


def _source_ids(prefix: str, ids: np.ndarray) -> list[str]:
    """E000000123: zero-padded so that text order is id order."""
    return list(np.char.mod(f"{prefix}%010d", ids).tolist())


def _dates(days: np.ndarray) -> list[str]:
    return list(np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist())


def _epoch_days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def generate_histories(cfg: SynthConfig, *, progress: Progress | None = None) -> HistorySummary:
    """Write the district's history (conditions, visits, readings, medicines, 65+ exams)."""
    rng = np.random.default_rng([cfg.seed, 0x484953])  # "HIS": a stream of its own
    people = _people(cfg, rng)
    n = len(people.ids)
    summary = HistorySummary()
    if n == 0:
        return summary
    end_day = _epoch_days(cfg.as_of)
    start_day = end_day - 365 * YEARS
    adult = people.age >= 18
    has_ht = adult & (rng.random(n) < _by_age(people.age, HYPERTENSION_BY_AGE))
    has_dm = adult & (rng.random(n) < _by_age(people.age, DIABETES_BY_AGE))
    ht_ok = rng.random(n) < HYPERTENSION_CONTROLLED
    dm_ok = rng.random(n) < DIABETES_CONTROLLED
    summary.hypertension = int(has_ht.sum())
    summary.diabetes = int(has_dm.sum())
    stamp = _timestamps(np.array([end_day * 86_400]))[0]

    # Visits: follow-ups of each patient (at their station or centre), then other visits anywhere.
    ht_idx = np.repeat(np.flatnonzero(has_ht), FOLLOW_UPS_PER_YEAR * YEARS)
    dm_idx = np.repeat(np.flatnonzero(has_dm), FOLLOW_UPS_PER_YEAR * YEARS)
    other_count = rng.poisson(OTHER_VISITS_PER_YEAR * YEARS, n)
    other_idx = np.repeat(np.arange(n), other_count)
    hospitals = np.array(
        Institution.objects.filter(kind__in=HOSPITAL_KINDS).order_by("id").values_list("id", flat=True),
        dtype=np.int64,
    )
    other_place = people.centre[other_idx].copy()
    to_hospital = rng.random(len(other_idx)) < (0.5 if len(hospitals) else 0.0)
    if len(hospitals):
        other_place[to_hospital] = hospitals[rng.integers(0, len(hospitals), int(to_hospital.sum()))]
    other_type = np.where(
        to_hospital,
        rng.choice(
            np.array(
                [EncounterType.OUTPATIENT, EncounterType.EMERGENCY, EncounterType.INPATIENT], dtype=object
            ),
            len(other_idx),
            p=[0.8, 0.15, 0.05],
        ),
        rng.choice(
            np.array(
                [EncounterType.OUTPATIENT, EncounterType.HOME_VISIT, EncounterType.ONLINE], dtype=object
            ),
            len(other_idx),
            p=[0.85, 0.1, 0.05],
        ),
    )
    visit_idx = np.r_[ht_idx, dm_idx, other_idx]
    n_visits = len(visit_idx)
    visit_place = np.r_[people.station[ht_idx], people.station[dm_idx], other_place]
    visit_type = np.r_[
        np.full(len(ht_idx) + len(dm_idx), EncounterType.OUTPATIENT.value, dtype=object), other_type
    ]
    department = np.where(visit_place == people.centre[visit_idx], "全科", "全科门诊").astype(object)
    department[len(ht_idx) + len(dm_idx) :][to_hospital] = "内科"
    # Clinic hours, local time 08:00–16:59, stored in UTC.
    visit_day = rng.integers(start_day, end_day, n_visits)
    visit_start = (
        visit_day * 86_400 + rng.integers(8, 17, n_visits) * 3_600 + rng.integers(0, 60, n_visits) * 60
    )
    visit_start -= 8 * 3_600
    stay = np.where(visit_type == EncounterType.INPATIENT, rng.integers(2, 10, n_visits) * 86_400, 1_200)
    visit_end = np.minimum(visit_start + stay, end_day * 86_400 - 8 * 3_600 - 60)
    # Rows go in (resident, time) order with ids and zero-padded source ids rising alike, so every
    # index but one grows at its end: SQLite's B-trees then append instead of splitting pages.
    visit_order = np.lexsort((visit_start, visit_idx))
    first_encounter = next_id(Encounter)
    encounter_ids = np.empty(n_visits, dtype=np.int64)
    encounter_ids[visit_order] = np.arange(n_visits, dtype=np.int64) + first_encounter
    visit_end = np.maximum(visit_end, visit_start)
    if progress:
        progress.stage("visits", n_visits)
    summary.encounters = insert_rows(
        Encounter,
        [
            "id",
            "resident_id",
            "institution_id",
            "source_system",
            "source_id",
            "received_at",
            "type",
            "department",
            "start",
            "end",
            "practitioner_id",
        ],
        zip(
            encounter_ids[visit_order].tolist(),
            people.ids[visit_idx[visit_order]].tolist(),
            visit_place[visit_order].tolist(),
            [SOURCE_SYSTEM] * n_visits,
            _source_ids("E", encounter_ids[visit_order]),
            [stamp] * n_visits,
            visit_type[visit_order].tolist(),
            department[visit_order].tolist(),
            _timestamps(visit_start[visit_order]),
            _timestamps(visit_end[visit_order]),
            [None] * n_visits,
            strict=True,
        ),
        on_progress=progress.advance if progress else None,
    )

    # Readings at the follow-ups, agreeing with control status; health-post self-measurements.
    n_ht = len(ht_idx)
    ok = ht_ok[ht_idx]
    # A controlled patient's reading still misses the target now and then, an uncontrolled one's meets it.
    reads_ok = np.where(ok, rng.random(n_ht) < 0.9, rng.random(n_ht) < 0.2)
    sbp = np.where(
        reads_ok, rng.normal(127, 7, n_ht).clip(100, 139), rng.normal(152, 10, n_ht).clip(140, 210)
    )
    dbp = np.where(reads_ok, rng.normal(79, 5, n_ht).clip(60, 89), rng.normal(93, 7, n_ht).clip(75, 125))
    n_dm = len(dm_idx)
    glu_ok = np.where(dm_ok[dm_idx], rng.random(n_dm) < 0.9, rng.random(n_dm) < 0.2)
    glucose = np.where(
        glu_ok, rng.normal(6.1, 0.45, n_dm).clip(4.4, 6.9), rng.normal(8.9, 1.4, n_dm).clip(7.0, 18)
    )
    post_users = np.flatnonzero(adult & (rng.random(n) < HEALTH_POST_USERS))
    post_idx = np.repeat(post_users, rng.integers(1, 5, len(post_users)))
    n_post = len(post_idx)
    post_high = has_ht[post_idx] & ~ht_ok[post_idx]
    post_sbp = np.where(post_high, rng.normal(148, 12, n_post), rng.normal(121, 11, n_post)).clip(90, 210)
    post_dbp = np.where(post_high, rng.normal(90, 8, n_post), rng.normal(76, 7, n_post)).clip(55, 125)
    post_at = rng.integers(start_day, end_day, n_post) * 86_400 + rng.integers(0, 12 * 3_600, n_post)
    ht_enc = encounter_ids[:n_ht]
    dm_enc = encounter_ids[n_ht : n_ht + n_dm]
    obs_resident = np.r_[
        people.ids[ht_idx], people.ids[ht_idx], people.ids[dm_idx], people.ids[post_idx], people.ids[post_idx]
    ]
    obs_place = np.r_[
        visit_place[:n_ht],
        visit_place[:n_ht],
        visit_place[n_ht : n_ht + n_dm],
        people.centre[post_idx],
        people.centre[post_idx],
    ]
    obs_code = np.r_[
        np.full(n_ht, "8480-6", dtype=object),
        np.full(n_ht, "8462-4", dtype=object),
        np.full(n_dm, "1558-6", dtype=object),
        np.full(n_post, "8480-6", dtype=object),
        np.full(n_post, "8462-4", dtype=object),
    ]
    obs_value = np.r_[
        np.round(sbp), np.round(dbp), np.round(glucose, 2), np.round(post_sbp), np.round(post_dbp)
    ]
    obs_unit = np.where(obs_code == "1558-6", "mmol/L", "mm[Hg]").astype(object)
    obs_at = np.r_[
        visit_start[:n_ht] + 300,
        visit_start[:n_ht] + 300,
        visit_start[n_ht : n_ht + n_dm] + 300,
        post_at,
        post_at,
    ]
    obs_method = np.r_[
        np.full(2 * n_ht + n_dm, "clinic", dtype=object),
        np.full(2 * n_post, "smart_health_post", dtype=object),
    ]
    obs_encounter = np.r_[ht_enc, ht_enc, dm_enc, np.zeros(2 * n_post, dtype=np.int64)].astype(object)
    obs_encounter[obs_encounter == 0] = None
    n_obs = len(obs_resident)
    obs_order = np.lexsort((obs_at, obs_resident))
    obs_resident, obs_place, obs_code = obs_resident[obs_order], obs_place[obs_order], obs_code[obs_order]
    obs_value, obs_unit, obs_at = obs_value[obs_order], obs_unit[obs_order], obs_at[obs_order]
    obs_method, obs_encounter = obs_method[obs_order], obs_encounter[obs_order]
    first_obs = next_id(Observation)
    obs_ids = np.arange(n_obs, dtype=np.int64) + first_obs
    values = obs_value.tolist()
    if progress:
        progress.stage("readings", n_obs)
    summary.observations = insert_rows(
        Observation,
        [
            "id",
            "resident_id",
            "institution_id",
            "source_system",
            "source_id",
            "received_at",
            "code",
            "value",
            "unit",
            "effective_at",
            "method",
            "encounter_id",
            "original_value",
            "original_unit",
        ],
        zip(
            obs_ids.tolist(),
            obs_resident.tolist(),
            obs_place.tolist(),
            [SOURCE_SYSTEM] * n_obs,
            _source_ids("O", obs_ids),
            [stamp] * n_obs,
            obs_code.tolist(),
            values,
            obs_unit.tolist(),
            _timestamps(np.minimum(obs_at, (end_day - 1) * 86_400)),
            obs_method.tolist(),
            obs_encounter.tolist(),
            values,
            obs_unit.tolist(),
            strict=True,
        ),
        on_progress=progress.advance if progress else None,
    )

    # Diagnoses (onset mostly before the window) and the medicines that treat them.
    cond_idx = np.r_[np.flatnonzero(has_ht), np.flatnonzero(has_dm)]
    n_cond = len(cond_idx)
    cond_code = np.r_[
        np.full(int(has_ht.sum()), "I10", dtype=object), np.full(int(has_dm.sum()), "E11.9", dtype=object)
    ]
    cond_order = np.argsort(cond_idx, kind="stable")  # by resident, for the indexes' sake (see visits)
    cond_idx, cond_code = cond_idx[cond_order], cond_code[cond_order]
    cond_display = np.where(cond_code == "I10", "原发性高血压", "2型糖尿病").astype(object)
    years_ill = rng.exponential(6.0, n_cond).clip(0.2, 30)
    onset = np.maximum(
        end_day - (years_ill * 365).astype(np.int64), end_day - 365 * np.maximum(people.age[cond_idx] - 17, 1)
    )
    first_cond = next_id(Condition)
    cond_ids = np.arange(n_cond, dtype=np.int64) + first_cond
    onset_text = _dates(onset)
    if progress:
        progress.stage("conditions", n_cond)
    summary.conditions = insert_rows(
        Condition,
        [
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
        ],
        zip(
            cond_ids.tolist(),
            people.ids[cond_idx].tolist(),
            people.centre[cond_idx].tolist(),
            [SOURCE_SYSTEM] * n_cond,
            _source_ids("C", cond_ids),
            [stamp] * n_cond,
            cond_code.tolist(),
            cond_display.tolist(),
            [ClinicalStatus.ACTIVE.value] * n_cond,
            onset_text,
            onset_text,
            [None] * n_cond,
            strict=True,
        ),
        on_progress=progress.advance if progress else None,
    )
    treated = rng.random(n_cond) < 0.8
    med_idx = cond_idx[treated]
    n_med = len(med_idx)
    is_ht = cond_code[treated] == "I10"
    first_med = next_id(Medication)
    med_ids = np.arange(n_med, dtype=np.int64) + first_med
    if progress:
        progress.stage("medicines", n_med)
    summary.medications = insert_rows(
        Medication,
        [
            "id",
            "resident_id",
            "institution_id",
            "source_system",
            "source_id",
            "received_at",
            "kind",
            "status",
            "medication_system",
            "medication_code",
            "medication_text",
            "dosage_text",
            "authored_at",
            "effective_start",
            "effective_end",
            "days_supply",
            "prescriber_id",
            "encounter_id",
        ],
        zip(
            med_ids.tolist(),
            people.ids[med_idx].tolist(),
            people.centre[med_idx].tolist(),
            [SOURCE_SYSTEM] * n_med,
            _source_ids("M", med_ids),
            [stamp] * n_med,
            [MedicationKind.STATEMENT.value] * n_med,
            [MedicationStatus.ACTIVE.value] * n_med,
            ["http://www.whocc.no/atc"] * n_med,
            np.where(is_ht, "C08CA01", "A10BA02").tolist(),
            np.where(is_ht, "氨氯地平片 5mg", "二甲双胍片 0.5g").tolist(),
            np.where(is_ht, "每日一次，每次一片", "每日两次，每次一片").tolist(),
            [None] * n_med,
            np.array(onset_text, dtype=object)[treated].tolist(),
            [None] * n_med,
            [None] * n_med,
            [None] * n_med,
            [None] * n_med,
            strict=True,
        ),
        on_progress=progress.advance if progress else None,
    )

    # 65+ yearly exam forms, one per examined resident and year.
    exam_rows: list[tuple[Any, ...]] = []
    first_exam = next_id(ElderlyExam)
    for year in range(YEARS):
        year_end = end_day - 365 * year
        age_then = people.age - year
        examined = np.flatnonzero((age_then >= 65) & (rng.random(n) < ELDERLY_EXAM_SHARE))
        days = rng.integers(year_end - 365, year_end, len(examined))
        complete = rng.random(len(examined)) < EXAM_COMPLETE_SHARE
        high = has_ht[examined] & ~ht_ok[examined]
        exam_sbp = np.where(
            high, rng.normal(150, 10, len(examined)), rng.normal(128, 10, len(examined))
        ).clip(95, 210)
        exam_dbp = np.where(high, rng.normal(90, 7, len(examined)), rng.normal(78, 6, len(examined))).clip(
            55, 125
        )
        for k, i in enumerate(examined.tolist()):
            parts = _exam_parts(int(np.rint(exam_sbp[k])), int(np.rint(exam_dbp[k])), bool(complete[k]))
            pk = first_exam + len(exam_rows)
            exam_rows.append(
                (
                    pk,
                    int(people.ids[i]),
                    int(people.station[i]),
                    SOURCE_SYSTEM,
                    f"X{pk:010d}",
                    stamp,
                    _dates(days[k : k + 1])[0],
                    None,
                    *parts,
                )
            )
    if progress:
        progress.stage("65+ exams", len(exam_rows))
    summary.elderly_exams = insert_rows(
        ElderlyExam,
        [
            "id",
            "resident_id",
            "institution_id",
            "source_system",
            "source_id",
            "received_at",
            "exam_date",
            "examiner_id",
            "assessment",
            "physical",
            "tests",
            "guidance",
        ],
        exam_rows,
        on_progress=progress.advance if progress else None,
    )
    for model in (Encounter, Observation, Condition, Medication, ElderlyExam):
        reset_sequence(model)
    return summary


_NORMAL = "正常"
_ASSESSMENT = json.dumps(dict.fromkeys(ELDERLY_EXAM_PARTS["assessment"], _NORMAL), ensure_ascii=False)
_TESTS = json.dumps(dict.fromkeys(ELDERLY_EXAM_PARTS["tests"], _NORMAL), ensure_ascii=False)
_GUIDANCE = json.dumps({"guidance": "定期随访，合理膳食，适量运动"}, ensure_ascii=False)
_INCOMPLETE_TESTS = json.dumps({"blood_routine": _NORMAL}, ensure_ascii=False)


def _exam_parts(sbp: int, dbp: int, complete: bool) -> tuple[str, str, str, str]:
    """The four parts as JSON text; an incomplete form lacks most of its tests and its guidance."""
    physical: dict[str, Any] = dict.fromkeys(ELDERLY_EXAM_PARTS["physical"], _NORMAL)
    physical["blood_pressure"] = {"systolic": sbp, "diastolic": dbp}
    physical_text = json.dumps(physical, ensure_ascii=False)
    if complete:
        return _ASSESSMENT, physical_text, _TESTS, _GUIDANCE
    return _ASSESSMENT, physical_text, _INCOMPLETE_TESTS, "{}"
