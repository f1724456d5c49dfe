"""Computing the fact rows (指标事实) of residents and units for a period.

One function computes the rows of any set of residents: the full rebuild calls it for every resident in
chunks, the hooks for the residents a write touched. Both paths run the same code, so incremental state
and a rebuild agree by construction; the tests check the hooks reach every write that matters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from jiayi.care import rules as care_rules
from jiayi.care.choices import Programme
from jiayi.indicators import care_facts, results
from jiayi.indicators.models import FactPeriod, PeriodKind, ResidentFact, UnitFact, UnitKind
from jiayi.indicators.scope import ResidentScope
from jiayi.records.choices import ClinicalStatus, EncounterType, ObservationCode, ObservationMethod
from jiayi.records.lib import is_elderly_exam_complete
from jiayi.records.models import Condition, ElderlyExam, Encounter, Observation
from jiayi.referrals.indicators import referral_visit_ids, slot_facts
from jiayi.registry.choices import (
    PRIMARY_CARE_KINDS,
    InstitutionKind,
    PlaceLevel,
    Sex,
)
from jiayi.registry.identity import age_on
from jiayi.registry.models import (
    Institution,
    KeyPopulationDeclaration,
    Place,
    Resident,
    Staff,
    Team,
)
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing
from jiayi.synth.writer import insert_rows

CHUNK = 2000
REBUILD_CHUNK = 20000
# Operational choice (spec): from age 65 hypertension counts as controlled below 150/90.
ELDERLY_BP_TARGET_150 = True
ACTIVE_CLINICAL = (ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)
# Face-to-face measurements count as follow-ups; self-measurements at posts or at home do not.
FACE_TO_FACE = (ObservationMethod.CLINIC, ObservationMethod.HOME_VISIT)
HTN_CODES = ("I10", "I11", "I12", "I13", "I14", "I15")
DM_CODES = ("E11",)
MENTAL_CODES = ("F20", "F21", "F22", "F23", "F24", "F25", "F28", "F29", "F31")
# The basic fields a record must hold to count as complete (规范建档): operational choice.
REQUIRED_BASIC_FIELDS = ("name", "sex", "birth_date", "identifier", "phone", "committee", "address")
SMART_POST_KIND = InstitutionKind.SMART_HEALTH_POST


def period_bounds(kind: str, as_of: date) -> tuple[date, date]:
    """The first day of the year or quarter holding `as_of`, and `as_of` itself."""
    if kind == PeriodKind.YEAR:
        return date(as_of.year, 1, 1), as_of
    if kind == PeriodKind.QUARTER:
        return date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1), as_of
    raise ValueError(f"period kind must be year or quarter, got {kind!r}")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _local_day(moment: datetime) -> date:
    return moment.astimezone(timezone.get_current_timezone()).date()


@dataclass
class Geography:
    """Where committees, institutions and staff sit in the hierarchy: loaded once per computation."""

    committee_street: dict[int, int | None] = field(default_factory=dict)
    street_district: dict[int, int | None] = field(default_factory=dict)
    committee_centre: dict[int, int | None] = field(default_factory=dict)
    committee_doctor: dict[int, int | None] = field(default_factory=dict)
    committee_team: dict[int, int] = field(default_factory=dict)
    institution_centre: dict[int, int] = field(default_factory=dict)
    institution_kind: dict[int, str] = field(default_factory=dict)
    institution_place: dict[int, int] = field(default_factory=dict)
    place_level: dict[int, str] = field(default_factory=dict)
    place_parent: dict[int, int | None] = field(default_factory=dict)
    staff_team: dict[int, int] = field(default_factory=dict)

    def street_of_place(self, place_id: int | None) -> int | None:
        while place_id is not None:
            level = self.place_level.get(place_id)
            if level == PlaceLevel.SUB_DISTRICT:
                return place_id
            if level in (PlaceLevel.DISTRICT, PlaceLevel.CITY):
                return None
            place_id = self.place_parent.get(place_id)
        return None

    def district_of_place(self, place_id: int | None) -> int | None:
        while place_id is not None:
            if self.place_level.get(place_id) == PlaceLevel.DISTRICT:
                return place_id
            place_id = self.place_parent.get(place_id)
        return None


def load_geography() -> Geography:
    geo = Geography()
    for pid, level, parent, centre, doctor in Place.objects.values_list(
        "id", "level", "parent_id", "responsible_centre_id", "designated_doctor_id"
    ):
        geo.place_level[pid] = level
        geo.place_parent[pid] = parent
        if level == PlaceLevel.COMMITTEE:
            geo.committee_centre[pid] = centre
            geo.committee_doctor[pid] = doctor
    for pid in geo.place_level:
        if geo.place_level[pid] == PlaceLevel.COMMITTEE:
            geo.committee_street[pid] = geo.street_of_place(pid)
        if geo.place_level[pid] == PlaceLevel.SUB_DISTRICT:
            geo.street_district[pid] = geo.district_of_place(pid)
    # The team serving a committee: the first by id when several do (operational choice).
    for team_id, committee_id in Team.committees.through.objects.order_by("team_id").values_list(
        "team_id", "place_id"
    ):
        geo.committee_team.setdefault(committee_id, team_id)
    for iid, kind, parent, place in Institution.objects.values_list("id", "kind", "parent_id", "place_id"):
        geo.institution_kind[iid] = kind
        geo.institution_place[iid] = place
        geo.institution_centre[iid] = parent if parent is not None else iid
    for team_id, staff_id in Team.members.through.objects.order_by("team_id").values_list(
        "team_id", "staff_id"
    ):
        geo.staff_team.setdefault(staff_id, team_id)
    return geo


@dataclass
class _ActiveSigning:
    starts_on: date
    centre_id: int
    team_id: int
    doctor_id: int
    district_hospital_id: int | None
    municipal_hospital_id: int | None


def signing_active_on(
    status: str, starts_on: date, ends_on: date, changed_on: date | None, day: date
) -> bool:
    """Whether a signing was in force on `day`: pending and declined never; a terminated or transferred
    one until the day its status changed; an active or expired one over its period."""
    if status in (SigningStatus.PENDING, SigningStatus.DECLINED) or day < starts_on:
        return False
    if status in (SigningStatus.TERMINATED, SigningStatus.TRANSFERRED) and changed_on is not None:
        return day < min(changed_on, ends_on + timedelta(days=1))
    return day <= ends_on


def _code_in(code: str, prefixes: Sequence[str]) -> bool:
    return any(code.upper().startswith(prefix) for prefix in prefixes)


def _record_complete(row: Mapping[str, Any]) -> bool:
    return bool(
        row["name"]
        and row["sex"] != Sex.UNKNOWN
        and row["birth_date"]
        and row["has_identifier"]
        and row["has_phone"]
        and row["committee_id"]
        and row["residential_point_id"]
    )


def _management_start(
    conditions: list[tuple[str, str, date | None, date | None]], prefixes: Sequence[str], as_of: date
) -> date | None:
    """When the resident came under management for the disease: the earliest onset (or recorded)
    date of an active diagnosis on or before the reference date; None when there is none."""
    starts = []
    for code, status, onset, recorded in conditions:
        if status not in ACTIVE_CLINICAL or not _code_in(code, prefixes):
            continue
        since = onset or recorded
        if since is None or since <= as_of:
            starts.append(since or date.min)
    return min(starts) if starts else None


def compute_resident_rows(period: FactPeriod, scope: ResidentScope, geo: Geography) -> list[dict[str, Any]]:
    """The fact rows of the scope's residents for the period (residents that do not exist get none)."""
    start, as_of = period.starts_on, period.as_of
    year_ago = as_of - timedelta(days=365)
    end_moment = _start_of(as_of + timedelta(days=1))
    # A resident merged into another is the same person counted under the survivor's row.
    # Whether an identifier and a phone are present is asked of the database: the values are encrypted
    # at rest, and decrypting a district's worth of them only to test for emptiness would cost seconds.
    residents = list(
        Resident.objects.filter(**scope.of("pk"), merged_into__isnull=True)
        .annotate(
            has_identifier=ExpressionWrapper(
                Q(citizen_id__isnull=False) | ~Q(alt_id_number=""), output_field=BooleanField()
            ),
            has_phone=ExpressionWrapper(~Q(phone=""), output_field=BooleanField()),
        )
        .values(
            "id",
            "birth_date",
            "sex",
            "is_resident",
            "date_of_death",
            "health_record_number",
            "has_identifier",
            "name",
            "has_phone",
            "committee_id",
            "residential_point_id",
        )
    )
    signings: dict[int, _ActiveSigning] = {}
    for row in (
        Signing.objects.filter(**scope.of(), starts_on__lte=as_of)
        .values(
            "resident_id",
            "status",
            "starts_on",
            "ends_on",
            "status_changed_at",
            "centre_id",
            "team_id",
            "family_doctor_id",
            "district_hospital_id",
            "municipal_hospital_id",
        )
        .order_by("resident_id", "starts_on", "id")
    ):
        changed = row["status_changed_at"]
        changed_on = _local_day(changed) if changed is not None else None
        if signing_active_on(row["status"], row["starts_on"], row["ends_on"], changed_on, as_of):
            signings[row["resident_id"]] = _ActiveSigning(
                row["starts_on"],
                row["centre_id"],
                row["team_id"],
                row["family_doctor_id"],
                row["district_hospital_id"],
                row["municipal_hospital_id"],
            )
    declared: set[int] = set(
        KeyPopulationDeclaration.objects.filter(**scope.of(), valid_from__lte=as_of)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=as_of))
        .order_by()
        .values_list("resident_id", flat=True)
    )
    conditions: dict[int, list[tuple[str, str, date | None, date | None]]] = defaultdict(list)
    for rid, code, status, onset, recorded in (
        Condition.objects.filter(**scope.of())
        .order_by()
        .values_list("resident_id", "code", "clinical_status", "onset_date", "recorded_date")
    ):
        conditions[rid].append((code, status, onset, recorded))
    # Follow-up readings: face-to-face BP and fasting glucose in the period, by day.
    pressures: dict[int, dict[date, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    glucose: dict[int, dict[date, tuple[float, ...]]] = defaultdict(dict)
    for rid, code, value, at in (
        Observation.objects.filter(
            **scope.of(),
            code__in=[
                ObservationCode.SYSTOLIC_BP,
                ObservationCode.DIASTOLIC_BP,
                ObservationCode.FASTING_GLUCOSE,
            ],
            method__in=FACE_TO_FACE,
            effective_at__gte=_start_of(start),
            effective_at__lt=end_moment,
        )
        .order_by("effective_at", "id")
        .values_list("resident_id", "code", "value", "effective_at")
    ):
        day = _local_day(at)
        if code == ObservationCode.FASTING_GLUCOSE:
            glucose[rid][day] = (value,)
        else:
            pressures[rid][day][code] = value
    bp: dict[int, dict[date, tuple[float, ...]]] = {
        rid: {
            day: (pair[ObservationCode.SYSTOLIC_BP], pair[ObservationCode.DIASTOLIC_BP])
            for day, pair in days.items()
            if ObservationCode.SYSTOLIC_BP in pair and ObservationCode.DIASTOLIC_BP in pair
        }
        for rid, days in pressures.items()
    }
    dynamic: set[int] = set(
        Observation.objects.filter(
            **scope.of(), effective_at__gte=_start_of(year_ago), effective_at__lt=end_moment
        )
        .order_by()
        .values_list("resident_id", flat=True)
    )
    dynamic |= set(
        Encounter.objects.filter(**scope.of(), start__gte=_start_of(year_ago), start__lt=end_moment)
        .order_by()
        .values_list("resident_id", flat=True)
    )
    dynamic |= set(
        ElderlyExam.objects.filter(**scope.of(), exam_date__gt=year_ago, exam_date__lte=as_of)
        .order_by()
        .values_list("resident_id", flat=True)
    )
    # Outpatient visits as (institution, came through the family doctor's referral).
    referred = referral_visit_ids(scope.of(), _start_of(start), end_moment)
    visits: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for rid, institution_id, encounter_id in (
        Encounter.objects.filter(
            **scope.of(),
            type=EncounterType.OUTPATIENT,
            start__gte=_start_of(start),
            start__lt=end_moment,
        )
        .order_by()
        .values_list("resident_id", "institution_id", "id")
    ):
        visits[rid].append((institution_id, encounter_id in referred))
    exams: dict[int, list[ElderlyExam]] = defaultdict(list)
    for exam in (
        ElderlyExam.objects.filter(**scope.of(), exam_date__gte=start, exam_date__lte=as_of)
        .order_by()
        .only("resident_id", "assessment", "physical", "tests", "guidance")
    ):
        exams[exam.resident_id].append(exam)

    care = care_facts.load(scope, start, as_of)
    required_quarters = care_facts.quarters_required(as_of)
    rows: list[dict[str, Any]] = []
    for r in residents:
        rid = r["id"]
        age = max(age_on(r["birth_date"], as_of), 0)
        died = r["date_of_death"] is not None and r["date_of_death"] <= as_of
        lives_here = bool(r["is_resident"]) and not died
        signing = signings.get(rid) if not died else None
        committee = r["committee_id"]
        street = geo.committee_street.get(committee) if committee is not None else None
        district = geo.street_district.get(street) if street is not None else None
        centre: int | None
        team: int | None
        doctor: int | None
        if signing is not None:
            centre, team, doctor = signing.centre_id, signing.team_id, signing.doctor_id
        else:
            centre = geo.committee_centre.get(committee) if committee is not None else None
            team = geo.committee_team.get(committee) if committee is not None else None
            doctor = geo.committee_doctor.get(committee) if committee is not None else None
        diagnoses = conditions.get(rid, [])
        mental = _management_start(diagnoses, MENTAL_CODES, as_of) is not None
        htn_since, htn_days = _programme(rid, Programme.HYPERTENSION, diagnoses, as_of, bp.get(rid, {}), care)
        dm_since, dm_days = _programme(rid, Programme.DIABETES, diagnoses, as_of, glucose.get(rid, {}), care)
        htn_followups = htn_standard = htn_controlled = 0
        if htn_since is not None:
            counted = sorted(day for day in htn_days if day >= htn_since)
            htn_followups = len(counted)
            htn_standard = care_rules.managed_to_spec(counted, htn_since, start, as_of)
            htn_controlled = bool(counted) and _bp_controlled(htn_days[counted[-1]], age)
        dm_followups = dm_standard = dm_controlled = 0
        if dm_since is not None:
            counted = sorted(day for day in dm_days if day >= dm_since)
            dm_followups = len(counted)
            dm_standard = care_rules.managed_to_spec(counted, dm_since, start, as_of)
            dm_controlled = bool(counted) and dm_days[counted[-1]][0] < 7.0
        has_ehr = bool(r["health_record_number"])
        ehr_dynamic = has_ehr and rid in dynamic
        exam_list = exams.get(rid, [])
        elderly_exam = age >= 65 and bool(exam_list)
        elderly_managed = (
            age >= 65
            and has_ehr
            and (
                rid in care.elderly_complete
                or any(e.guidance and is_elderly_exam_complete(e.parts) for e in exam_list)
            )
        )
        quarters = care.contact_quarters.get(rid, set())
        visit_places = visits.get(rid, [])
        at_centre = in_combination = 0
        if signing is not None:
            for institution_id, on_referral in visit_places:
                own = geo.institution_centre.get(institution_id) == signing.centre_id
                at_centre += own
                in_combination += (
                    own
                    or on_referral
                    or institution_id in (signing.district_hospital_id, signing.municipal_hospital_id)
                )
        primary = sum(geo.institution_kind.get(i) in PRIMARY_CARE_KINDS for i, _ in visit_places)
        rows.append(
            {
                "period_id": period.pk,
                "resident_id": rid,
                "district_id": district,
                "street_id": street,
                "committee_id": committee,
                "centre_id": centre,
                "team_id": team,
                "doctor_id": doctor,
                "age": min(age, 32767),
                "lives_here": lives_here,
                "signed": signing is not None,
                "key_population": age >= 65
                or age <= 6
                or rid in declared
                or htn_since is not None
                or dm_since is not None
                or mental,
                "htn": htn_since is not None,
                "htn_followups": htn_followups,
                "htn_standard": bool(htn_standard),
                "htn_controlled": bool(htn_controlled),
                "dm": dm_since is not None,
                "dm_followups": dm_followups,
                "dm_standard": bool(dm_standard),
                "dm_controlled": bool(dm_controlled),
                "elderly_exam": elderly_exam,
                "elderly_managed": elderly_managed,
                "has_ehr": has_ehr,
                "ehr_dynamic": ehr_dynamic,
                "ehr_standard": ehr_dynamic and _record_complete(r),
                "visits": len(visit_places),
                "visits_in_combination": in_combination,
                "visits_at_signing_centre": at_centre,
                "visits_primary_care": primary,
                "assessed": rid in care.assessed,
                "contacted_each_quarter": required_quarters <= quarters,
                "report_sent": rid in care.report_sent,
                "mental": mental,
                "mental_rehab": rid in care.in_rehab,
            }
        )
    return rows


def _bp_controlled(reading: tuple[float, ...], age: int) -> bool:
    """控制满意 at the last follow-up of the period: below 140/90 (150/90 from 65 when configured)."""
    sbp, dbp = reading
    elderly = ELDERLY_BP_TARGET_150 and age >= 65
    return sbp < (150 if elderly else 140) and dbp < 90


def _programme(
    rid: int,
    programme: str,
    diagnoses: list[tuple[str, str, date | None, date | None]],
    as_of: date,
    measured: dict[date, tuple[float, ...]],
    care: care_facts.CareInputs,
) -> tuple[date | None, dict[date, tuple[float, ...]]]:
    """When management started (None: not under management) and the follow-up readings by day.

    A resident enrolled in the programme (纳入慢病管理) is managed from the enrolment while it is in
    force; one never enrolled is managed from the diagnosis (records kept before the programme
    existed). Follow-ups are face-to-face readings: the programme's follow-ups, and clinic or home
    measurements from the records, one a day (the follow-up's reading wins)."""
    key = (rid, programme)
    if key in care.enrolled_since:
        since = care.enrolled_since[key]
    else:
        codes = HTN_CODES if programme == Programme.HYPERTENSION else DM_CODES
        since = _management_start(diagnoses, codes, as_of)
    days = dict(measured)
    days.update(care.readings.get(key, {}))
    return since, days


def compute_unit_rows(period: FactPeriod, geo: Geography) -> list[UnitFact]:
    """Committees, registered GPs, centres, smart health posts and hospital slots, attributed to their
    units."""
    rows: list[UnitFact] = []
    for pid, level in geo.place_level.items():
        if level != PlaceLevel.COMMITTEE:
            continue
        street = geo.committee_street.get(pid)
        rows.append(
            UnitFact(
                period=period,
                kind=UnitKind.COMMITTEE,
                ref_id=pid,
                district_id=geo.street_district.get(street) if street else None,
                street_id=street,
                centre_id=geo.committee_centre.get(pid),
                team_id=geo.committee_team.get(pid),
                doctor_id=geo.committee_doctor.get(pid),
                flag=geo.committee_doctor.get(pid) is not None,
            )
        )
    for sid, institution_id in Staff.objects.filter(active=True, is_registered_gp=True).values_list(
        "id", "institution_id"
    ):
        place = geo.institution_place.get(institution_id)
        rows.append(
            UnitFact(
                period=period,
                kind=UnitKind.GP,
                ref_id=sid,
                district_id=geo.district_of_place(place),
                street_id=geo.street_of_place(place),
                centre_id=geo.institution_centre.get(institution_id),
                team_id=geo.staff_team.get(sid),
                doctor_id=sid,
                flag=True,
            )
        )
    for iid, kind, place, opened, closed in Institution.objects.filter(
        kind__in=[InstitutionKind.COMMUNITY_HEALTH_CENTRE, SMART_POST_KIND]
    ).values_list("id", "kind", "place_id", "opened_on", "closed_on"):
        if closed is not None and closed <= period.as_of:
            continue
        if opened is not None and opened > period.as_of:
            continue
        is_post = kind == SMART_POST_KIND
        rows.append(
            UnitFact(
                period=period,
                kind=UnitKind.SMART_POST if is_post else UnitKind.CENTRE,
                ref_id=iid,
                district_id=geo.district_of_place(place),
                street_id=geo.street_of_place(place),
                centre_id=geo.institution_centre.get(iid),
                team_id=None,
                doctor_id=None,
                flag=(not is_post) or (opened is not None and period.starts_on <= opened),
            )
        )
    rows.extend(compute_slot_rows(period, geo))
    return rows


def compute_slot_rows(
    period: FactPeriod, geo: Geography, hospital_ids: Sequence[int] | None = None
) -> list[UnitFact]:
    """Hospital slots starting in the period (of these hospitals; None: all), counted at their hospital
    and its district: `flag` when a family doctor took it from the reserve."""
    end = _start_of(period.as_of + timedelta(days=1))
    return [
        UnitFact(
            period=period,
            kind=UnitKind.SLOT,
            ref_id=fact.slot_id,
            district_id=geo.district_of_place(geo.institution_place.get(fact.hospital_id)),
            street_id=None,
            centre_id=None,
            team_id=None,
            doctor_id=None,
            hospital_id=fact.hospital_id,
            flag=fact.booked_from_reserve,
            reserved=fact.reserved,
            released=fact.released,
        )
        for fact in slot_facts(_start_of(period.starts_on), end, hospital_ids)
    ]


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for at in range(0, len(ids), size):
        yield ids[at : at + size]


FACT_COLUMNS = [f.attname for f in ResidentFact._meta.concrete_fields if not f.primary_key]


def _insert(rows: Sequence[dict[str, Any]]) -> None:
    """COPY (PostgreSQL) or executemany (SQLite): the ORM's bulk_create spends most of a rebuild
    compiling SQL per field and row."""
    insert_rows(ResidentFact, FACT_COLUMNS, (tuple(row[c] for c in FACT_COLUMNS) for row in rows))


def refresh_residents_in(
    period: FactPeriod, resident_ids: Iterable[int], geo: Geography | None = None
) -> None:
    """Recompute these residents' rows in one period: delete theirs, insert the new ones."""
    ids = sorted(set(resident_ids))
    geography = geo or load_geography()
    with transaction.atomic():
        for chunk in _chunks(ids):
            before = results.old_rows(period, chunk)
            ResidentFact.objects.filter(period=period, resident_id__in=chunk).delete()
            rows = compute_resident_rows(period, ResidentScope(ids=chunk), geography)
            _insert(rows)
            results.apply_delta(period, before, rows)


def refresh_units_in(period: FactPeriod, geo: Geography | None = None) -> None:
    """Recompute a period's unit rows (a few thousand at most: always all of them)."""
    geography = geo or load_geography()
    with transaction.atomic():
        UnitFact.objects.filter(period=period).delete()
        UnitFact.objects.bulk_create(compute_unit_rows(period, geography), batch_size=1000)
        results.recount_units(period)


def refresh_residents(resident_ids: Iterable[int]) -> None:
    """Bring every kept period's rows of these residents up to date. Writers that bypass model saves
    (bulk imports) call this in their transaction."""
    ids = sorted(set(resident_ids))
    if not ids:
        return
    periods = list(FactPeriod.objects.all())
    if not periods:
        return
    geo = load_geography()
    for period in periods:
        refresh_residents_in(period, ids, geo)


def refresh_slots(hospital_ids: Iterable[int]) -> None:
    """Bring every kept period's slot rows of these hospitals up to date: a booking or a release
    changes a few hundred rows of one hospital, not the whole unit table."""
    ids = sorted(set(hospital_ids))
    periods = list(FactPeriod.objects.all()) if ids else []
    if not periods:
        return
    geo = load_geography()
    for period in periods:
        with transaction.atomic():
            UnitFact.objects.filter(period=period, kind=UnitKind.SLOT, hospital_id__in=ids).delete()
            UnitFact.objects.bulk_create(compute_slot_rows(period, geo, ids), batch_size=1000)
            results.recount_units(period)


def refresh_units() -> None:
    periods = list(FactPeriod.objects.all())
    if not periods:
        return
    geo = load_geography()
    for period in periods:
        refresh_units_in(period, geo)


def build_period(kind: str, as_of: date, on_progress: Callable[[int, int], None] | None = None) -> FactPeriod:
    """Create (or rebuild) a period's fact rows from scratch, then its kept counts. `on_progress`
    hears (residents done, residents in all) after each chunk."""
    starts_on, _ = period_bounds(kind, as_of)
    with transaction.atomic():
        period, _created = FactPeriod.objects.update_or_create(
            kind=kind,
            as_of=as_of,
            defaults={"starts_on": starts_on, "built_at": timezone.now(), "counts_key": ""},
        )
        geo = load_geography()
        ResidentFact.objects.filter(period=period).delete()
        all_ids = list(Resident.objects.order_by("id").values_list("id", flat=True))
        done = 0
        for chunk in _chunks(all_ids, REBUILD_CHUNK):
            _insert(compute_resident_rows(period, ResidentScope(low=chunk[0], high=chunk[-1]), geo))
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, len(all_ids))
        refresh_units_in(period, geo)
        results.keep(period, force=True)
    results.analyze_tables()
    return period


def ensure_period(kind: str, as_of: date) -> FactPeriod:
    """The kept period for (kind, as_of), built on first use and kept current from then on."""
    period_bounds(kind, as_of)
    existing = FactPeriod.objects.filter(kind=kind, as_of=as_of).first()
    if existing is not None:
        return existing
    return build_period(kind, as_of)


def rebuild_all() -> list[FactPeriod]:
    """Recompute every kept period from scratch (`jiayi indicators rebuild`)."""
    return [build_period(p.kind, p.as_of) for p in list(FactPeriod.objects.all())]
