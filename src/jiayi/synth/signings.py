"""Synthetic family-doctor signings for a generated district: packages, consents, signings, history.

Coverage follows the targets of Shanghai's plan (about 45% of 常住 residents, 70–80% of key
populations), higher among people aged 65+ than among children. Every signed resident's current
signing is open (active, a few still pending) and may follow earlier ones: renewals year after year,
and now and then a panel transfer when a doctor left. Some residents who are not signed now had a
signing they ended, and residents who died had theirs terminated on the day.

Selection is vectorised with numpy: within each group exactly round(share × size) residents are
drawn, so coverage hits the targets regardless of the district's size. Rows go in with
`insert_rows`, which keeps a million-resident district fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
from django.db import connection
from django.db.models import Q
from numpy.typing import NDArray

from jiayi.records.choices import ClinicalStatus
from jiayi.records.models import Condition
from jiayi.registry.choices import InstitutionKind, PlaceLevel, Profession
from jiayi.registry.models import Institution, Place, Resident, Staff, Team
from jiayi.signing.choices import (
    ChangeReason,
    ConsentKind,
    PackageKind,
    SigningChannel,
    SigningStatus,
)
from jiayi.signing.models import Consent, ServicePackage, Signing, SigningEvent
from jiayi.synth.config import SynthConfig
from jiayi.synth.writer import insert_rows, next_id, reset_sequence

IntArray = NDArray[np.int64]

OVERALL_SHARE = 0.45  # signed share of living 常住 residents
KEY_SHARE = 0.75  # of the key populations: 65+ and children 0–6
ELDERLY_SHARE = 0.80  # of those 65+, within the key populations' share
# Of adults under 65 with hypertension or type-2 diabetes on record: chronic patients are the other group
# the plan signs first (and the one quarterly follow-ups are for). Applies only when histories exist.
CHRONIC_SHARE = 0.65
CHRONIC_CODES = ("I10", "I11", "I12", "I13", "I15", "E11")
PENDING_SHARE = 0.01  # open signings made online in the last fortnight, not confirmed yet
TRANSFER_SHARE = 0.03  # current signings that came over from a departed doctor
ENDED_SHARE = 0.04  # of unsigned living residents: had a signing they ended early
DEATH_SIGNED_SHARE = 0.7  # residents who died in the history window had been signed
HISTORY_YEARS = 3  # renewals go back at most this many periods
CONSENT_VERSION = "2023.1"
# Shares of package kinds among signings in a household of at least two (household packages need one).
EXTENDED_SHARE = 0.15
HOUSEHOLD_SHARE = 0.2
DISTRICT_HOSPITAL_SHARE = 0.6
MUNICIPAL_HOSPITAL_SHARE = 0.4
DOUBLE_SIGNING_SHARE = 0.05

_STATUS = [str(s) for s in SigningStatus.values]
_ACTIVE = _STATUS.index(SigningStatus.ACTIVE)
_PENDING = _STATUS.index(SigningStatus.PENDING)
_EXPIRED = _STATUS.index(SigningStatus.EXPIRED)
_TERMINATED = _STATUS.index(SigningStatus.TERMINATED)
_TRANSFERRED = _STATUS.index(SigningStatus.TRANSFERRED)
_CHANNELS = [
    SigningChannel.COUNTER,
    SigningChannel.ONLINE,
    SigningChannel.FUNCTIONAL_COMMUNITY,
    SigningChannel.CARE_HOME,
]
_KINDS = [PackageKind.BASIC, PackageKind.EXTENDED, PackageKind.HOUSEHOLD, PackageKind.FUNCTIONAL_COMMUNITY]


@dataclass(slots=True)
class SigningSummary:
    """What was generated and the coverage it reached (shares of living 常住 residents)."""

    packages: int = 0
    consents: int = 0
    signings: int = 0
    open_signings: int = 0
    events: int = 0
    coverage: dict[str, float] = field(default_factory=dict)


def _pick(group: NDArray[np.bool_], share: float, keys: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Exactly round(share × |group|) members of the group: those with the smallest random keys."""
    members = np.flatnonzero(group)
    k = round(min(max(share, 0.0), 1.0) * len(members))
    chosen = np.zeros(len(group), dtype=bool)
    if k > 0:
        chosen[members[np.argpartition(keys[members], k - 1)[:k]]] = True
    return chosen


def _chronic_patients(district: Place) -> IntArray:
    """Residents of the district with an active hypertension or diabetes condition on record (none
    when histories were not generated, or were generated after the signings)."""
    query = Q()
    for code in CHRONIC_CODES:
        query |= Q(code__startswith=code)
    ids = (
        Condition.objects.filter(
            query,
            resident__committee__parent__parent=district,
            clinical_status__in=(ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE),
        )
        .values_list("resident_id", flat=True)
        .distinct()
    )
    return np.fromiter(ids, dtype=np.int64)


def _packages(district: Place, years: range) -> dict[tuple[int, str], int]:
    """The district's catalogue for each year: (year, kind) → package id."""
    catalogue = {
        PackageKind.BASIC: ("BASIC", "基础服务包", Decimal("0.00"), 0, 0),
        PackageKind.EXTENDED: ("EXT-CHRONIC", "慢病个性化服务包", Decimal("120.00"), 60, 2),
        PackageKind.HOUSEHOLD: ("HOUSEHOLD", "家庭服务包", Decimal("0.00"), 30, 0),
        PackageKind.FUNCTIONAL_COMMUNITY: ("FUNCTIONAL", "功能社区服务包", Decimal("0.00"), 0, 0),
    }
    made = ServicePackage.objects.bulk_create(
        [
            ServicePackage(
                district=district,
                year=year,
                code=code,
                name=f"{name}（{year}）",
                kind=kind,
                price=price,
                long_prescription_days=long_days,
                home_visits_per_year=visits,
                continued_hospital_prescriptions=kind == PackageKind.EXTENDED,
            )
            for year in years
            for kind, (code, name, price, long_days, visits) in catalogue.items()
        ]
    )
    return {(p.year, str(p.kind)): p.pk for p in made}


def _dates(ordinals: IntArray) -> list[str]:
    return [date.fromordinal(int(o)).isoformat() for o in ordinals]


def _stamps(ordinals: IntArray) -> list[str]:
    suffix = " 09:00:00+00:00" if connection.vendor == "postgresql" else " 09:00:00"
    cache: dict[int, str] = {}
    out = []
    for o in ordinals.tolist():
        text = cache.get(o)
        if text is None:
            text = cache[o] = date.fromordinal(o).isoformat() + suffix
        out.append(text)
    return out


def _year_of(ordinals: IntArray) -> IntArray:
    """Calendar year of each day ordinal, through a small lookup table rather than per-row dates."""
    low, high = int(ordinals.min()), int(ordinals.max())
    years = np.array([date.fromordinal(o).year for o in range(low, high + 1)], dtype=np.int64)
    return years[ordinals - low]


def generate_signings(cfg: SynthConfig, rng_seed: int, as_of: date) -> SigningSummary:
    """Sign the district's residents as of `as_of`, with history; the district must be generated."""
    rng = np.random.default_rng(rng_seed)
    district = Place.objects.get(code=cfg.district_code, level=PlaceLevel.DISTRICT)
    summary = SigningSummary()

    rows = list(
        Resident.objects.filter(committee__parent__parent=district)
        .order_by("id")
        .values_list("id", "birth_date", "is_resident", "date_of_death", "committee_id", "household_id")
    )
    n = len(rows)
    if n == 0:
        return summary
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    birth = np.fromiter((r[1].toordinal() for r in rows), dtype=np.int64, count=n)
    changzhu = np.fromiter((r[2] for r in rows), dtype=bool, count=n)
    death = np.fromiter((r[3].toordinal() if r[3] else 0 for r in rows), dtype=np.int64, count=n)
    committee = np.fromiter((r[4] for r in rows), dtype=np.int64, count=n)
    household = np.fromiter((r[5] or 0 for r in rows), dtype=np.int64, count=n)
    del rows
    today = as_of.toordinal()
    age = (today - birth) // 365.2425
    alive = death == 0
    pool = changzhu & alive
    elderly = pool & (age >= 65)
    child = pool & (age <= 6)
    key = elderly | child
    other = pool & ~key

    # Exact shares per group: the 65+ first, children make up the rest of the key-population target,
    # everyone else the rest of the overall target.
    keys = rng.random(n)
    signed = _pick(elderly, ELDERLY_SHARE, keys)
    child_share = (KEY_SHARE * key.sum() - signed.sum()) / max(int(child.sum()), 1)
    signed |= _pick(child, float(child_share), keys)
    chronic = other & np.isin(ids, _chronic_patients(district))
    signed |= _pick(chronic, CHRONIC_SHARE, keys)
    rest = other & ~chronic
    other_share = (OVERALL_SHARE * pool.sum() - signed.sum()) / max(int(rest.sum()), 1)
    signed |= _pick(rest, float(other_share), keys)

    # Teams serving each committee; a household shares its doctor.
    teams = list(
        Team.objects.filter(centre__place__parent=district).values_list("id", "lead_id", "centre_id")
    )
    team_lead = {t: lead for t, lead, _c in teams}
    team_centre = {t: c for t, _l, c in teams}
    by_committee: dict[int, list[int]] = {}
    for committee_id, team_id in Team.committees.through.objects.filter(
        team_id__in=list(team_lead)
    ).values_list("place_id", "team_id"):
        by_committee.setdefault(committee_id, []).append(team_id)
    centre_teams: dict[int, list[int]] = {}
    for t, _lead, c in teams:
        centre_teams.setdefault(c, []).append(t)
    committees = np.array(sorted(by_committee), dtype=np.int64)
    width = max(len(v) for v in by_committee.values())
    table = np.array([sorted(by_committee[c]) + [0] * (width - len(by_committee[c])) for c in committees])
    counts = np.array([len(by_committee[c]) for c in committees], dtype=np.int64)
    ci = np.searchsorted(committees, committee)
    team_of = table[ci, (household * 7919) % counts[ci]]
    # Another team of the same centre, the one a transferred signing came from.
    other_team = {
        t: (lst[(lst.index(t) + 1) % len(lst)] if len(lst) > 1 else t)
        for lst in centre_teams.values()
        for t in lst
    }

    # The current signing of each signed resident, and how many renewals came before it.
    cur = np.flatnonzero(signed)
    cur_start = today - rng.integers(0, 365, len(cur))
    pending = rng.random(len(cur)) < PENDING_SHARE
    cur_start[pending] = today - rng.integers(0, 14, int(pending.sum()))
    renewals = rng.choice(HISTORY_YEARS, size=len(cur), p=[0.35, 0.35, 0.3])
    renewals[pending] = 0
    chain = renewals + 1
    member = np.repeat(cur, chain)
    first_row = np.r_[0, np.cumsum(chain)[:-1]]
    within = np.arange(len(member)) - np.repeat(first_row, chain)
    back = np.repeat(renewals, chain) - within
    start = np.repeat(cur_start, chain) - back * 365
    end = start + 364
    status = np.where(back > 0, _EXPIRED, _ACTIVE)
    is_last = back == 0
    status[np.flatnonzero(is_last)[pending]] = _PENDING
    previous = np.where(within > 0, np.arange(len(member)) - 1, -1)
    team = team_of[member]
    ends_at = np.where(status == _EXPIRED, end + 1, 0)
    end_reason = np.full(len(member), "", dtype=object)
    end_reason[status == _EXPIRED] = ChangeReason.RENEWED.value
    start_reason = np.where(within > 0, ChangeReason.RENEWED.value, ChangeReason.NEW.value).astype(object)

    # Panel transfers: the current signing began with a colleague who left mid-period.
    last_rows = np.flatnonzero(is_last)
    movable = last_rows[(status[last_rows] == _ACTIVE) & (start[last_rows] <= today - 30)]
    moved = movable[rng.random(len(movable)) < TRANSFER_SHARE / max(1 - PENDING_SHARE, 1e-9)]
    moved_day = start[moved] + (rng.random(len(moved)) * (today - start[moved])).astype(np.int64)
    member = np.r_[member, member[moved]]
    start = np.r_[start, moved_day]
    end = np.r_[end, end[moved]]
    status = np.r_[status, np.full(len(moved), _ACTIVE)]
    previous = np.r_[previous, moved]
    team = np.r_[team, team[moved]]
    ends_at = np.r_[ends_at, np.zeros(len(moved), dtype=np.int64)]
    end_reason = np.r_[end_reason, np.full(len(moved), "", dtype=object)]
    start_reason = np.r_[start_reason, np.full(len(moved), ChangeReason.PANEL_TRANSFER.value, dtype=object)]
    status[moved] = _TRANSFERRED
    ends_at[moved] = moved_day
    end_reason[moved] = ChangeReason.PANEL_TRANSFER.value
    team[moved] = np.array([other_team[int(t)] for t in team[moved]], dtype=np.int64)

    # Ended signings: unsigned living residents who left early, and residents who died while signed.
    quitters = np.flatnonzero(_pick(pool & ~signed, ENDED_SHARE, rng.random(n)))
    window = today - HISTORY_YEARS * 365
    dead = np.flatnonzero(changzhu & ~alive & (death > window + 30) & (death < today))
    dead = dead[rng.random(len(dead)) < DEATH_SIGNED_SHARE]
    ended = np.r_[quitters, dead]
    ended_start = np.r_[
        today - rng.integers(60, HISTORY_YEARS * 365, len(quitters)),
        death[dead] - rng.integers(1, 30, len(dead)),
    ]
    ended_day = np.r_[ended_start[: len(quitters)] + rng.integers(1, 300, len(quitters)), death[dead]]
    ended_day = np.minimum(ended_day, np.minimum(ended_start + 364, today - 1))
    ended_start = np.minimum(ended_start, ended_day)
    reasons = np.r_[
        np.where(
            rng.random(len(quitters)) < 0.5,
            ChangeReason.MOVED_AWAY.value,
            ChangeReason.RESIDENT_REQUEST.value,
        ),
        np.full(len(dead), ChangeReason.DEATH.value, dtype=object),
    ].astype(object)
    member = np.r_[member, ended]
    start = np.r_[start, ended_start]
    end = np.r_[end, ended_start + 364]
    status = np.r_[status, np.full(len(ended), _TERMINATED)]
    previous = np.r_[previous, np.full(len(ended), -1)]
    team = np.r_[team, team_of[ended]]
    ends_at = np.r_[ends_at, ended_day]
    end_reason = np.r_[end_reason, reasons]
    start_reason = np.r_[start_reason, np.full(len(ended), ChangeReason.NEW.value, dtype=object)]

    m = len(member)
    year = _year_of(start)
    years = range(int(year.min()), as_of.year + 1)
    packages = _packages(district, years)
    summary.packages = len(packages)

    # Channel and package: functional communities and care homes for some adults and elders, online
    # for a share, household packages only for households of two or more.
    household_size = np.bincount(household, minlength=int(household.max()) + 1)
    r = rng.random(m)
    person_age = age[member]
    channel = np.zeros(m, dtype=np.int64)
    channel[r < 0.18] = 1
    channel[(r >= 0.18) & (r < 0.21) & (person_age >= 18) & (person_age < 60)] = 2
    channel[(r >= 0.21) & (r < 0.24) & (person_age >= 75)] = 3
    kind = np.zeros(m, dtype=np.int64)
    k = rng.random(m)
    kind[k < EXTENDED_SHARE] = 1
    kind[
        (k >= EXTENDED_SHARE)
        & (k < EXTENDED_SHARE + HOUSEHOLD_SHARE)
        & (household[member] > 0)
        & (household_size[household[member]] > 1)
    ] = 2
    kind[channel == 2] = 3
    package_table = np.array(
        [[packages[(y, str(kind_value))] for kind_value in _KINDS] for y in years], dtype=np.int64
    )
    package = package_table[year - years.start, kind]

    hospitals_d = list(
        Institution.objects.filter(
            kind__in=[InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.REGIONAL_MEDICAL_CENTRE],
            place__parent=district,
        ).values_list("id", flat=True)
    ) or list(
        Institution.objects.filter(
            kind__in=[InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.REGIONAL_MEDICAL_CENTRE]
        ).values_list("id", flat=True)
    )
    hospitals_m = list(
        Institution.objects.filter(kind=InstitutionKind.MUNICIPAL_HOSPITAL).values_list("id", flat=True)
    )
    specialists = list(
        Staff.objects.filter(profession=Profession.SPECIALIST, active=True).values_list("id", flat=True)
    )
    district_hospital = np.full(m, None, dtype=object)
    municipal_hospital = np.full(m, None, dtype=object)
    specialist = np.full(m, None, dtype=object)
    if hospitals_d:
        chosen = rng.random(m) < DISTRICT_HOSPITAL_SHARE
        district_hospital[chosen] = np.array(hospitals_d)[
            rng.integers(0, len(hospitals_d), int(chosen.sum()))
        ]
    if hospitals_m:
        chosen = rng.random(m) < MUNICIPAL_HOSPITAL_SHARE
        municipal_hospital[chosen] = np.array(hospitals_m)[
            rng.integers(0, len(hospitals_m), int(chosen.sum()))
        ]
    if specialists:
        chosen = rng.random(m) < DOUBLE_SIGNING_SHARE
        specialist[chosen] = np.array(specialists)[rng.integers(0, len(specialists), int(chosen.sum()))]

    # One consent per resident, given on the day of their first signing.
    people_signed = np.unique(member)
    earliest = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(earliest, member, start)
    first_consent = next_id(Consent)
    consent_of = np.zeros(n, dtype=np.int64)
    consent_of[people_signed] = first_consent + np.arange(len(people_signed))
    insert_rows(
        Consent,
        ["id", "resident_id", "kind", "text_version", "accepted_at"],
        zip(
            consent_of[people_signed].tolist(),
            ids[people_signed].tolist(),
            [ConsentKind.SIGNING.value] * len(people_signed),
            [CONSENT_VERSION] * len(people_signed),
            _stamps(earliest[people_signed]),
            strict=True,
        ),
    )
    summary.consents = len(people_signed)

    first_signing = next_id(Signing)
    signing_ids = first_signing + np.arange(m)
    lead = np.array([team_lead[int(t)] for t in team], dtype=np.int64)
    centre = np.array([team_centre[int(t)] for t in team], dtype=np.int64)
    changed = np.where(ends_at > 0, ends_at, start)
    previous_col: list[int | None] = [first_signing + p if p >= 0 else None for p in previous.tolist()]
    household_col: list[int | None] = [
        h if package_kind == 2 else None
        for h, package_kind in zip(household[member].tolist(), kind.tolist(), strict=True)
    ]
    statuses = np.array(_STATUS, dtype=object)[status]
    channels = np.array([str(c) for c in _CHANNELS], dtype=object)[channel]
    insert_rows(
        Signing,
        [
            "id",
            "resident_id",
            "family_doctor_id",
            "team_id",
            "centre_id",
            "district_hospital_id",
            "municipal_hospital_id",
            "specialist_id",
            "household_id",
            "package_id",
            "channel",
            "status",
            "starts_on",
            "ends_on",
            "consent_id",
            "previous_id",
            "created_at",
            "status_changed_at",
        ],
        zip(
            signing_ids.tolist(),
            ids[member].tolist(),
            lead.tolist(),
            team.tolist(),
            centre.tolist(),
            district_hospital.tolist(),
            municipal_hospital.tolist(),
            specialist.tolist(),
            household_col,
            package.tolist(),
            channels.tolist(),
            statuses.tolist(),
            _dates(start),
            _dates(end),
            consent_of[member].tolist(),
            previous_col,
            _stamps(start),
            _stamps(changed),
            strict=True,
        ),
    )
    summary.signings = m
    summary.open_signings = int(np.isin(status, [_ACTIVE, _PENDING]).sum())

    # Events: how each signing began (new, then confirmed unless still pending; or renewed/transferred
    # from the one before) and how it ended.
    fresh = previous < 0
    confirmed = fresh & (status != _PENDING)
    ended_rows = ends_at > 0
    ev_signing = np.r_[
        signing_ids[fresh], signing_ids[confirmed], signing_ids[~fresh], signing_ids[ended_rows]
    ]
    ev_from = np.r_[
        np.full(int(fresh.sum()), "", dtype=object),
        np.full(int(confirmed.sum()), SigningStatus.PENDING.value, dtype=object),
        np.full(int((~fresh).sum()), "", dtype=object),
        np.full(int(ended_rows.sum()), SigningStatus.ACTIVE.value, dtype=object),
    ]
    ev_to = np.r_[
        np.full(int(fresh.sum()), SigningStatus.PENDING.value, dtype=object),
        np.full(int(confirmed.sum()), SigningStatus.ACTIVE.value, dtype=object),
        np.full(int((~fresh).sum()), SigningStatus.ACTIVE.value, dtype=object),
        statuses[ended_rows],
    ]
    ev_reason = np.r_[
        start_reason[fresh],
        np.full(int(confirmed.sum()), ChangeReason.CONFIRMED.value, dtype=object),
        start_reason[~fresh],
        end_reason[ended_rows],
    ]
    # Confirmation comes a day or two after an online or counter signing.
    ev_day = np.r_[
        start[fresh],
        np.minimum(start[confirmed] + rng.integers(0, 3, int(confirmed.sum())), today),
        start[~fresh],
        ends_at[ended_rows],
    ]
    order = np.lexsort((ev_day, ev_signing))
    first_event = next_id(SigningEvent)
    insert_rows(
        SigningEvent,
        ["id", "signing_id", "from_status", "to_status", "reason", "note", "at"],
        zip(
            (first_event + np.arange(len(order))).tolist(),
            ev_signing[order].tolist(),
            [str(v) for v in ev_from[order]],
            [str(v) for v in ev_to[order]],
            [str(v) for v in ev_reason[order]],
            [""] * len(order),
            _stamps(ev_day[order]),
            strict=True,
        ),
    )
    summary.events = len(order)
    for model in (Consent, Signing, SigningEvent):
        reset_sequence(model)

    open_people = np.zeros(n, dtype=bool)
    open_people[member[np.isin(status, [_ACTIVE, _PENDING])]] = True
    summary.coverage = {
        "overall": float(open_people[pool].mean()) if pool.any() else 0.0,
        "key_populations": float(open_people[key].mean()) if key.any() else 0.0,
        "aged_65_plus": float(open_people[elderly].mean()) if elderly.any() else 0.0,
        "children_0_6": float(open_people[child].mean()) if child.any() else 0.0,
    }
    if chronic.any():
        summary.coverage["chronic_under_65"] = float(open_people[chronic].mean())
    return summary
