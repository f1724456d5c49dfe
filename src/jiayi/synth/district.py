"""Generate a whole synthetic district: places, institutions, staff and teams, households and residents.

Deterministic: the same configuration and seed give the same rows, in the same order, with the same ids.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
from django.db import connection, transaction

from jiayi.crypto.keys import ensure_local_key
from jiayi.registry.choices import (
    InstitutionKind,
    PlaceKind,
    PlaceLevel,
    Profession,
    Sex,
    TeamRole,
)
from jiayi.registry.models import (
    Household,
    Institution,
    MedicalConsortium,
    Place,
    Resident,
    ResidentialPoint,
    Staff,
    Team,
    TeamMembership,
)
from jiayi.synth import geography, people
from jiayi.synth.config import SynthConfig, name_data, reference_data
from jiayi.synth.histories import generate_histories
from jiayi.synth.signings import generate_signings
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

# The random stream of the smart health posts, apart from the district's main one.
SMART_POST_STREAM = 0x5B05
# Share of centres that open a smart health post in the reference date's year (operational choice:
# the district's target is one new post per centre a year, and not every centre meets it).
SMART_POSTS_NEW_SHARE = 0.7


class SynthError(Exception):
    """The generator cannot run as asked (for example, the database already holds a district)."""


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class _Silent:
    def stage(self, name: str, total: int) -> None:
        return None

    def advance(self, count: int) -> None:
        return None


@dataclass(slots=True)
class SynthSummary:
    """What was generated, with timings per stage (seconds)."""

    residents: int = 0
    households: int = 0
    residential_points: int = 0
    committees: int = 0
    sub_districts: int = 0
    institutions: int = 0
    staff: int = 0
    teams: int = 0
    registered_gps: int = 0
    services: dict[str, int] = field(default_factory=dict)  # rows per kind, when services were generated
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return (
            self.residents
            + self.households
            + self.residential_points
            + self.committees
            + self.sub_districts
            + self.institutions
            + self.staff
            + self.teams
        )


@dataclass(slots=True)
class _Structure:
    district: Place
    sub_districts: list[Place]
    sub_cells: list[geography.Cell]
    committees: list[Place]
    committee_cells: list[geography.Cell]
    committee_sub: list[int]
    centres: list[Institution]


def _short(name: str) -> str:
    for suffix in ("街道", "镇"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


def _allocate(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split `total` into integer parts proportional to weights (largest remainder), each ≥ minimum."""
    w = np.array(weights, dtype=float) / sum(weights)
    raw = w * total
    parts = np.maximum(np.floor(raw).astype(int), minimum)
    while parts.sum() < total:
        parts[int(np.argmax(raw - parts))] += 1
    while parts.sum() > total and (parts > minimum).any():
        candidates = np.where(parts > minimum, parts - raw, -np.inf)
        parts[int(np.argmax(candidates))] -= 1
    return [int(p) for p in parts]


def _staff_name(rng: np.random.Generator) -> str:
    names = name_data()
    surnames = names["surnames"]
    weights = np.array(names["surname_weights"], dtype=float)
    chars = names["given_chars"]
    surname = surnames[int(rng.choice(len(surnames), p=weights / weights.sum()))]
    given = "".join(chars[int(i)] for i in rng.integers(0, len(chars), 1 + int(rng.random() < 0.7)))
    return str(surname + given)


def _build_places(cfg: SynthConfig, rng: np.random.Generator) -> _Structure:
    ref = reference_data()
    city_ref = ref["city"]
    d_ref = ref["districts"][cfg.district_code]
    city, _ = Place.objects.get_or_create(
        code=city_ref["code"],
        defaults={
            "name": city_ref["name"],
            "name_en": city_ref["name_en"],
            "level": PlaceLevel.CITY,
            "kind": PlaceKind.CITY,
        },
    )
    west, south, east, north = d_ref["bbox"]
    box = geography.Cell(west, south, east, north)
    district = Place.objects.create(
        code=cfg.district_code,
        name=d_ref["name"],
        name_en=d_ref["name_en"],
        level=PlaceLevel.DISTRICT,
        kind=PlaceKind.DISTRICT,
        parent=city,
        centroid_lon=box.centroid[0],
        centroid_lat=box.centroid[1],
        boundary=box.geojson(),
    )
    subs_ref = d_ref["sub_districts"]
    weights = [float(s["weight"]) for s in subs_ref]
    sub_cells = geography.split_by_weights(box, weights, rng)
    sub_districts = Place.objects.bulk_create(
        [
            Place(
                code=cfg.district_code + s["code"],
                name=s["name"],
                name_en=s["name_en"],
                level=PlaceLevel.SUB_DISTRICT,
                kind=PlaceKind.TOWN if s["kind"] == "town" else PlaceKind.STREET,
                parent=district,
                centroid_lon=round(cell.centroid[0], 6),
                centroid_lat=round(cell.centroid[1], 6),
                boundary=cell.geojson(),
            )
            for s, cell in zip(subs_ref, sub_cells, strict=True)
        ]
    )
    count = max(len(subs_ref), round(cfg.residents / cfg.residents_per_committee))
    per_sub = _allocate(count, weights)
    committees: list[Place] = []
    committee_cells: list[geography.Cell] = []
    committee_sub: list[int] = []
    for si, (sub, cell, k) in enumerate(zip(sub_districts, sub_cells, per_sub, strict=True)):
        is_town = sub.kind == PlaceKind.TOWN
        villages = k // 5 if is_town else 0  # towns keep a few village committees (村委)
        for j, c_cell in enumerate(geography.grid(cell, k)):
            village = j >= k - villages
            number = (101 + j - (k - villages)) if village else (1 + j)
            label = _chinese_number(number - 100 if village else number)
            committees.append(
                Place(
                    code=f"{sub.code}{number:03d}",
                    name=f"{_short(sub.name)}{label}{'村' if village else '居'}委会",
                    name_en=f"{sub.name_en} {'Village' if village else 'Committee'} {number % 100}",
                    level=PlaceLevel.COMMITTEE,
                    kind=PlaceKind.VILLAGE_COMMITTEE if village else PlaceKind.RESIDENTIAL_COMMITTEE,
                    parent=sub,
                    centroid_lon=round(c_cell.centroid[0], 6),
                    centroid_lat=round(c_cell.centroid[1], 6),
                    boundary=c_cell.geojson(),
                )
            )
            committee_cells.append(c_cell)
            committee_sub.append(si)
    committees = Place.objects.bulk_create(committees)
    return _Structure(
        district, list(sub_districts), sub_cells, committees, committee_cells, committee_sub, []
    )


def _build_institutions(cfg: SynthConfig, s: _Structure, rng: np.random.Generator) -> list[Institution]:
    d = s.district
    short_district = d.name.removesuffix("区")
    made: list[Institution] = []

    def add(code: str, name: str, kind: str, place: Place, parent: Institution | None = None) -> Institution:
        lon, lat = (place.centroid_lon or 0.0), (place.centroid_lat or 0.0)
        jitter = rng.normal(0, 0.002, 2)
        inst = Institution(
            code=code,
            name=name,
            kind=kind,
            place=place,
            parent=parent,
            address=f"{place.name}{int(rng.integers(1, 999))}号",
            lat=round(lat + float(jitter[1]), 6),
            lon=round(lon + float(jitter[0]), 6),
        )
        made.append(inst)
        return inst

    add(f"CDC{d.code}", f"{d.name}疾病预防控制中心", InstitutionKind.CDC, d)
    add(f"HC{d.code}", f"{d.name}卫生健康委员会", InstitutionKind.HEALTH_COMMISSION, d)
    centres = [
        add(
            f"CHC{sub.code}",
            f"{d.name}{_short(sub.name)}社区卫生服务中心",
            InstitutionKind.COMMUNITY_HEALTH_CENTRE,
            sub,
        )
        for sub in s.sub_districts
    ]
    # Save centres first so branch centres and stations can point to them.
    Institution.objects.bulk_create(made)
    made.clear()
    largest = int(
        np.argmax([len([c for c in s.committee_sub if c == i]) for i in range(len(s.sub_districts))])
    )
    add(
        f"BR{s.sub_districts[largest].code}",
        f"{d.name}{_short(s.sub_districts[largest].name)}社区卫生服务分中心",
        InstitutionKind.BRANCH_CENTRE,
        s.sub_districts[largest],
        centres[largest],
    )
    n_stations = min(cfg.stations, len(s.committees))
    per_sub = _allocate(n_stations, [float(s.committee_sub.count(i)) for i in range(len(s.sub_districts))], 0)
    for si, k in enumerate(per_sub):
        sub_committees = [c for c, sub_i in zip(s.committees, s.committee_sub, strict=True) if sub_i == si]
        for j in range(k):
            committee = sub_committees[(j * len(sub_committees)) // max(k, 1)]
            add(
                f"ST{committee.code}",
                f"{committee.name.removesuffix('会')}卫生服务站",
                InstitutionKind.STATION,
                committee,
                centres[si],
            )
    hospital_place = s.sub_districts
    add(
        f"RMC{d.code}",
        f"{short_district}区域性医疗中心（{d.name}中心医院）",
        InstitutionKind.REGIONAL_MEDICAL_CENTRE,
        hospital_place[0],
    )
    district_names = ["中医医院", "妇幼保健院", "精神卫生中心", "中西医结合医院", "老年护理医院", "康复医院"]
    for i in range(cfg.district_hospitals):
        add(
            f"DH{d.code}{i + 1:02d}",
            f"{d.name}{district_names[i % len(district_names)]}",
            InstitutionKind.DISTRICT_HOSPITAL,
            hospital_place[(i * 3 + 1) % len(hospital_place)],
        )
    municipal_names = [
        "上海市第一综合医院",
        "上海市第二综合医院",
        "上海市儿童医学中心",
        "上海市肿瘤医院",
        "上海市胸科医院",
    ]
    for i in range(cfg.municipal_hospitals):
        add(
            f"MH{d.code}{i + 1:02d}",
            municipal_names[i % len(municipal_names)],
            InstitutionKind.MUNICIPAL_HOSPITAL,
            hospital_place[(i * 3 + 2) % len(hospital_place)],
        )
    for si, sub in enumerate(s.sub_districts):
        add(f"CH{sub.code}", f"{_short(sub.name)}社区养老院", InstitutionKind.CARE_HOME, sub)
        if si % 3 == 0:
            add(f"OT{sub.code}", f"{_short(sub.name)}商务楼宇", InstitutionKind.OFFICE_TOWER, sub)
        if si % 3 == 1:
            add(f"SC{sub.code}", f"{_short(sub.name)}中学", InstitutionKind.SCHOOL, sub)
        if si % 3 == 2:
            add(f"FM{sub.code}", f"{_short(sub.name)}科技有限公司", InstitutionKind.FIRM, sub)
    add(f"PK{d.code}", f"{short_district}临空经济园区", InstitutionKind.PARK, s.sub_districts[-1])
    made.extend(_smart_posts(cfg, s, centres))
    Institution.objects.bulk_create(made)
    s.centres = centres
    for committee, si in zip(s.committees, s.committee_sub, strict=True):
        committee.responsible_centre = centres[si]
    Place.objects.bulk_update(s.committees, ["responsible_centre"])
    consortium = MedicalConsortium.objects.create(
        name=f"{d.name}区域医联体", lead=Institution.objects.get(code=f"RMC{d.code}")
    )
    consortium.members.set(
        list(centres)
        + list(Institution.objects.filter(kind=InstitutionKind.DISTRICT_HOSPITAL, place__parent=d))
    )
    return list(Institution.objects.filter(place__in=[d, *s.sub_districts, *s.committees]).order_by("id"))


def _smart_posts(cfg: SynthConfig, s: _Structure, centres: list[Institution]) -> list[Institution]:
    """Smart health posts (智慧健康驿站), run by each sub-district's centre in one of its committees: one
    opened in an earlier year, and for most centres one more opened this year up to the reference date,
    so "new posts this year" differs between centres. They draw from their own random stream: every
    other generated figure stays as it was without them."""
    rng = np.random.default_rng([cfg.seed, SMART_POST_STREAM])
    year_start = date(cfg.as_of.year, 1, 1)
    elapsed = (cfg.as_of - year_start).days
    posts: list[Institution] = []
    for si, (sub, centre) in enumerate(zip(s.sub_districts, centres, strict=True)):
        committees = [c for c, sub_i in zip(s.committees, s.committee_sub, strict=True) if sub_i == si]
        opened = [date(cfg.as_of.year - 1 - int(rng.integers(0, 4)), int(rng.integers(1, 13)), 1)]
        if rng.random() < SMART_POSTS_NEW_SHARE:
            opened.append(year_start + timedelta(days=int(rng.integers(0, elapsed + 1))))
        for j, day in enumerate(opened):
            committee = committees[(j * len(committees)) // len(opened)] if committees else sub
            lon, lat = (committee.centroid_lon or 0.0), (committee.centroid_lat or 0.0)
            jitter = rng.normal(0, 0.001, 2)
            posts.append(
                Institution(
                    code=f"SP{committee.code}{j}",
                    name=f"{committee.name.removesuffix('居委会').removesuffix('村委会')}智慧健康驿站",
                    kind=InstitutionKind.SMART_HEALTH_POST,
                    place=committee,
                    parent=centre,
                    address=f"{committee.name}{int(rng.integers(1, 999))}号",
                    lat=round(lat + float(jitter[1]), 6),
                    lon=round(lon + float(jitter[0]), 6),
                    opened_on=day,
                )
            )
    return posts


def _build_staff(
    cfg: SynthConfig, s: _Structure, institutions: list[Institution], rng: np.random.Generator
) -> tuple[int, int, int]:
    d = s.district
    centre_committees: list[list[int]] = [[] for _ in s.centres]
    for ci, si in enumerate(s.committee_sub):
        centre_committees[si].append(ci)
    weights = [float(len(c)) for c in centre_committees]
    gp_total = max(math.ceil(cfg.residents * cfg.gps_per_10k / 10_000), len(s.centres))
    gps_per_centre = _allocate(gp_total, weights)

    staff: list[Staff] = []
    counter = iter(range(1, 10_000_000))

    def new(profession: str, institution: Institution, gp: bool = False) -> Staff:
        member = Staff(
            code=f"{d.code}{next(counter):06d}",
            name=_staff_name(rng),
            sex=Sex.MALE if rng.random() < 0.45 else Sex.FEMALE,
            profession=profession,
            institution=institution,
            licence_number=f"{int(rng.integers(10**14, 10**15 - 1))}",
            is_registered_gp=gp,
        )
        staff.append(member)
        return member

    plan: list[tuple[Institution, list[tuple[Staff, Staff, Staff, Staff | None]], list[Staff]]] = []
    for centre, n_gp in zip(s.centres, gps_per_centre, strict=True):
        teams = []
        for t in range(n_gp):
            phd = new(Profession.PUBLIC_HEALTH_DOCTOR, centre) if t % 2 == 0 else None
            teams.append(
                (
                    new(Profession.FAMILY_DOCTOR, centre, gp=True),
                    new(Profession.NURSE, centre),
                    new(Profession.ASSISTANT, centre),
                    phd,
                )
            )
        shared = [
            new(p, centre)
            for p in (
                Profession.MANAGER,
                Profession.PHARMACIST,
                Profession.PSYCHOLOGIST,
                Profession.NUTRITIONIST,
                Profession.REHAB_THERAPIST,
                Profession.SOCIAL_WORKER,
            )
        ]
        plan.append((centre, teams, shared))
    for inst in institutions:
        if inst.kind in (
            InstitutionKind.REGIONAL_MEDICAL_CENTRE,
            InstitutionKind.DISTRICT_HOSPITAL,
            InstitutionKind.MUNICIPAL_HOSPITAL,
        ):
            for _ in range(cfg.specialists_per_hospital):
                new(Profession.SPECIALIST, inst)
            new(Profession.MANAGER, inst)
        elif inst.kind == InstitutionKind.CDC:
            for _ in range(3):
                new(Profession.CDC_OFFICER, inst)
        elif inst.kind == InstitutionKind.HEALTH_COMMISSION:
            for _ in range(2):
                new(Profession.ANALYST, inst)
    Staff.objects.bulk_create(staff)

    team_rows: list[Team] = []
    for centre, teams, _shared in plan:
        for i, (gp, _n, _a, _p) in enumerate(teams):
            team_rows.append(
                Team(
                    name=f"{gp.name}家庭医生团队",
                    centre=centre,
                    lead=gp,
                    panel_capacity=2400 if i >= 0 else 0,
                )
            )
    # Two GPs can share a name; the team name must still be unique within a centre.
    seen: dict[tuple[int, str], int] = {}
    for team in team_rows:
        key = (team.centre.pk, team.name)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            team.name = f"{team.name}（{seen[key]}）"
    Team.objects.bulk_create(team_rows)

    memberships: list[TeamMembership] = []
    committee_links: list[Any] = []
    through = Team.committees.through
    team_iter = iter(team_rows)
    for (_centre, teams, shared), committees in zip(plan, centre_committees, strict=True):
        centre_teams = [next(team_iter) for _ in teams]
        for i, (team, (gp, nurse, assistant, phd)) in enumerate(zip(centre_teams, teams, strict=True)):
            memberships.append(TeamMembership(team=team, staff=gp, team_role=TeamRole.LEAD))
            for member in (nurse, assistant, phd, shared[1 + i % (len(shared) - 1)]):
                if member is not None:
                    memberships.append(TeamMembership(team=team, staff=member, team_role=TeamRole.MEMBER))
        # Every committee gets at least one team; with more teams than committees they share.
        for k in range(max(len(committees), len(centre_teams))):
            team = centre_teams[k % len(centre_teams)]
            committee = s.committees[committees[k % len(committees)]]
            committee_links.append(through(team_id=team.pk, place_id=committee.pk))
            if committee.designated_doctor_id is None:
                committee.designated_doctor = team.lead
    TeamMembership.objects.bulk_create(memberships)
    through.objects.bulk_create(committee_links, ignore_conflicts=True)
    Place.objects.bulk_update(s.committees, ["designated_doctor"])
    gps = sum(1 for m in staff if m.is_registered_gp)
    return len(staff), len(team_rows), gps


def _timestamp_literal(cfg: SynthConfig) -> str:
    stamp = f"{cfg.as_of.isoformat()} 00:00:00"
    return stamp + "+00:00" if connection.vendor == "postgresql" else stamp


def _write_people(
    cfg: SynthConfig, s: _Structure, rng: np.random.Generator, progress: Progress
) -> tuple[int, int, int]:
    pop = people.generate_people(cfg, rng)
    n = len(pop)
    n_households = int(pop.household.max()) + 1
    k = len(s.committees)
    sub_weights = reference_data()["districts"][cfg.district_code]["sub_districts"]
    per_sub_count = np.bincount(np.array(s.committee_sub), minlength=len(s.sub_districts))
    weights = np.array([float(sub_weights[si]["weight"]) / per_sub_count[si] for si in s.committee_sub])
    weights *= rng.uniform(0.75, 1.25, k)
    household_committee = rng.choice(k, size=n_households, p=weights / weights.sum())

    # Residential points: about `households_per_point` households each, inside their committee.
    per_committee = np.bincount(household_committee, minlength=k)
    points_per_committee = np.maximum(1, np.ceil(per_committee / cfg.households_per_point).astype(np.int64))
    point_offset = np.r_[0, np.cumsum(points_per_committee)[:-1]]
    household_point = point_offset[household_committee] + np.floor(
        rng.random(n_households) * points_per_committee[household_committee]
    ).astype(np.int64)
    n_points = int(points_per_committee.sum())

    first_point = next_id(ResidentialPoint)
    first_household = next_id(Household)
    first_resident = next_id(Resident)
    point_rows = []
    street_names = ["路", "弄", "街", "巷"]
    for ci, committee in enumerate(s.committees):
        count = int(points_per_committee[ci])
        lon, lat = geography.points_in(s.committee_cells[ci], count, rng)
        base = _short(committee.name).removesuffix("居委会").removesuffix("村委会")
        for j in range(count):
            point_rows.append(
                (
                    first_point + int(point_offset[ci]) + j,
                    f"{committee.code}P{j + 1:04d}",
                    committee.pk,
                    f"{s.sub_districts[s.committee_sub[ci]].name}{base}{street_names[j % 4]}{j + 1}号",
                    float(lat[j]),
                    float(lon[j]),
                )
            )
    progress.stage("residential points", n_points)
    insert_rows(
        ResidentialPoint,
        ["id", "code", "committee_id", "address", "lat", "lon"],
        point_rows,
        on_progress=progress.advance,
    )

    committee_ids = np.array([c.pk for c in s.committees], dtype=np.int64)
    committee_codes = np.array([c.code for c in s.committees], dtype=object)
    # Household codes number households within their committee.
    order = np.argsort(household_committee, kind="stable")
    starts = np.r_[0, np.cumsum(per_committee)[:-1]]
    within = np.empty(n_households, dtype=np.int64)
    within[order] = np.arange(n_households) - np.repeat(starts, per_committee)
    household_codes = np.char.add(
        np.char.add(committee_codes[household_committee].astype(str), "H"), np.char.mod("%05d", within + 1)
    )
    progress.stage("households", n_households)
    insert_rows(
        Household,
        ["id", "code", "residential_point_id"],
        zip(
            (np.arange(n_households) + first_household).tolist(),
            household_codes.tolist(),
            (household_point + first_point).tolist(),
            strict=True,
        ),
        on_progress=progress.advance,
    )

    ids = people.citizen_ids(pop)
    try:
        people.check_citizen_ids(pop, ids, sample=2_000, rng=rng)
    except ValueError as error:
        raise SynthError(f"refusing to write an invalid citizen ID: {error}") from error
    alt_type, alt_number = people.alternative_ids(pop, rng)
    phone = people.phones(pop, rng)
    surnames = np.array(name_data()["surnames"])
    names = np.char.add(surnames[pop.surname], pop.given)
    person_committee = household_committee[pop.household]

    # Health-record numbers: district (6) + street (3) + committee (3) + sequence (5).
    has_record = rng.random(n) < cfg.record_number_share
    rec_idx = np.flatnonzero(has_record)
    rec_committee = person_committee[rec_idx]
    rec_order = np.argsort(rec_committee, kind="stable")
    rec_counts = np.bincount(rec_committee, minlength=k)
    rec_starts = np.r_[0, np.cumsum(rec_counts)[:-1]]
    rec_seq = np.empty(len(rec_idx), dtype=np.int64)
    rec_seq[rec_order] = np.arange(len(rec_idx)) - np.repeat(rec_starts, rec_counts)
    record_numbers = np.full(n, None, dtype=object)
    record_numbers[rec_idx] = np.char.add(
        committee_codes[rec_committee].astype(str), np.char.mod("%05d", rec_seq + 1)
    )

    birth = people.date_strings(pop.birth_ordinal)
    death = np.full(n, None, dtype=object)
    dead = pop.death_ordinal > 0
    death[dead] = people.date_strings(pop.death_ordinal[dead])
    citizen = ids.copy()
    citizen[ids == ""] = None
    stamp = _timestamp_literal(cfg)
    is_resident = pop.living_here | ~pop.registered

    columns = [
        "id",
        "citizen_id",
        "alt_id_type",
        "alt_id_number",
        "health_record_number",
        "name",
        "sex",
        "birth_date",
        "phone",
        "committee_id",
        "residential_point_id",
        "household_id",
        "relationship",
        "is_resident",
        "is_registered",
        "date_of_death",
        "created_at",
        "updated_at",
    ]
    rows = zip(
        (np.arange(n) + first_resident).tolist(),
        citizen.tolist(),
        alt_type.tolist(),
        alt_number.tolist(),
        record_numbers.tolist(),
        names.tolist(),
        people.sex_codes(pop).tolist(),
        birth.tolist(),
        phone.tolist(),
        committee_ids[person_committee].tolist(),
        (household_point[pop.household] + first_point).tolist(),
        (pop.household + first_household).tolist(),
        people.relationship_codes(pop).tolist(),
        is_resident.tolist(),
        pop.registered.tolist(),
        death.tolist(),
        [stamp] * n,
        [stamp] * n,
        strict=True,
    )
    progress.stage("residents", n)
    insert_rows(Resident, columns, rows, on_progress=progress.advance)
    for model in (ResidentialPoint, Household, Resident):
        reset_sequence(model)
    return n, n_households, n_points


@contextmanager
def _fast_sqlite() -> Iterator[None]:
    """Bulk-load settings for SQLite; durability comes back when the load commits."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size=-262144")
    yield


def generate_district(
    config: SynthConfig | None = None,
    *,
    residents: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    signings: bool = False,
    histories: bool = False,
    services: bool = False,
) -> SynthSummary:
    """Fill an empty database with a synthetic district, in one transaction (all or nothing).

    `services` adds what the centres did for the signed residents (assessments, follow-ups, contacts,
    referrals and appointments, points, health education and surveys); it needs signings and histories.
    """
    if services and not (signings and histories):
        raise SynthError("services need signings and histories: they are delivered to signed patients")
    cfg = config or SynthConfig()
    if residents is not None or seed is not None:
        cfg = SynthConfig(
            **{
                **{f: getattr(cfg, f) for f in cfg.__dataclass_fields__},
                **({"residents": residents} if residents is not None else {}),
                **({"seed": seed} if seed is not None else {}),
            }
        )
    reporter: Progress = progress or _Silent()
    if Place.objects.filter(code=cfg.district_code).exists() or Resident.objects.exists():
        raise SynthError(
            f"the database already holds a district ({cfg.district_code}) or residents; "
            "generate into an empty, freshly migrated database"
        )
    # A generated district is never real data: without a configured key it gets a local one (var/).
    ensure_local_key()
    rng = np.random.default_rng(cfg.seed)
    summary = SynthSummary()
    timer = _Timer(summary.seconds)
    with transaction.atomic(), _fast_sqlite():
        with timer("places"):
            reporter.stage("places", 1)
            structure = _build_places(cfg, rng)
            reporter.advance(1)
        with timer("institutions"):
            reporter.stage("institutions", 1)
            institutions = _build_institutions(cfg, structure, rng)
            reporter.advance(1)
        with timer("staff"):
            reporter.stage("staff and teams", 1)
            summary.staff, summary.teams, summary.registered_gps = _build_staff(
                cfg, structure, institutions, rng
            )
            reporter.advance(1)
        with timer("people"):
            summary.residents, summary.households, summary.residential_points = _write_people(
                cfg, structure, rng, reporter
            )
        # Histories come first so that signing can favour the chronic patients they reveal.
        if histories:  # opt-in: tests build the records they reason about
            with timer("histories"):
                generate_histories(cfg, progress=reporter)
        if signings:  # opt-in for the same reason: the test fixtures' district stays unsigned
            with timer("signings"):
                reporter.stage("signings", 1)
                generate_signings(cfg, cfg.seed, cfg.as_of)
                reporter.advance(1)
        if services:
            _generate_services(cfg, summary, timer, reporter)
    summary.committees = len(structure.committees)
    summary.sub_districts = len(structure.sub_districts)
    summary.institutions = len(institutions)
    return summary


def _generate_services(cfg: SynthConfig, summary: SynthSummary, timer: _Timer, reporter: Progress) -> None:
    # Imported here: these apps build on the registry the rest of this module fills.
    from jiayi.care.synth import generate_care
    from jiayi.points.synth import generate_points_and_education
    from jiayi.referrals.synth import generate_referrals
    from jiayi.synth.mental import generate_mental_health

    # Care before points: completed assessments earn points.
    for name, generate in (
        ("care", generate_care),
        ("referrals", generate_referrals),
        ("points and education", generate_points_and_education),
        ("mental health", generate_mental_health),
    ):
        with timer(name):
            reporter.stage(name, 1)
            counts = generate(cfg, as_of=cfg.as_of, seed=cfg.seed)
            summary.services.update(
                {f"{name}: {key}": value for key, value in counts.items() if isinstance(value, int)}
            )
            reporter.advance(1)


class _Timer:
    def __init__(self, sink: dict[str, float]) -> None:
        self.sink = sink

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.sink[name] = round(time.perf_counter() - start, 3)


ProgressCallback = Callable[[int], None]
