"""The rules of family-doctor signing as pure functions: no database, no clock (`today` is passed in).

"1+1+1" (1+1+1 组合签约): a resident signs with one family doctor at a community health centre and may
add one district-level and one municipal-level hospital, at most three institutions in all
(Shanghai 2019 plan, section 四(二)4). Validity and renewal are operational choices the plan leaves
open: one year, renewable from a month before the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum

from jiayi.registry.choices import InstitutionKind, Profession
from jiayi.signing.choices import SigningStatus

MAX_INSTITUTIONS = 3
DEFAULT_RENEWAL_LEAD_DAYS = 30


class Tier(StrEnum):
    """A place in the 1+1+1 combination."""

    FAMILY_DOCTOR = "family_doctor"
    DISTRICT_HOSPITAL = "district_hospital"
    MUNICIPAL_HOSPITAL = "municipal_hospital"


# Village clinics (村卫生室) are the stations of rural committees (requirement R3), so a family doctor
# working at one is still at the community level.
TIER_KINDS: Mapping[Tier, frozenset[str]] = {
    Tier.FAMILY_DOCTOR: frozenset(
        {
            InstitutionKind.COMMUNITY_HEALTH_CENTRE,
            InstitutionKind.BRANCH_CENTRE,
            InstitutionKind.STATION,
            InstitutionKind.VILLAGE_CLINIC,
        }
    ),
    # Regional medical centres (区域性医疗中心) are district-level hospitals in Shanghai's plan.
    Tier.DISTRICT_HOSPITAL: frozenset(
        {InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.REGIONAL_MEDICAL_CENTRE}
    ),
    Tier.MUNICIPAL_HOSPITAL: frozenset({InstitutionKind.MUNICIPAL_HOSPITAL}),
}
TIER_LABELS: Mapping[Tier, str] = {
    Tier.FAMILY_DOCTOR: "family doctor's institution",
    Tier.DISTRICT_HOSPITAL: "district hospital",
    Tier.MUNICIPAL_HOSPITAL: "municipal hospital",
}
SPECIALIST_KINDS = frozenset(TIER_KINDS[Tier.DISTRICT_HOSPITAL] | TIER_KINDS[Tier.MUNICIPAL_HOSPITAL])


def tier_problems(combination: Sequence[tuple[Tier, str]]) -> list[tuple[str, str]]:
    """What is wrong with a combination of (tier, institution kind) pairs, as (field, message).

    Exactly one family-doctor institution, each hospital tier at most once, at most three in all, and
    each institution of a kind its tier allows. An empty list means the combination is valid.
    """
    problems: list[tuple[str, str]] = []
    tiers = [tier for tier, _kind in combination]
    if tiers.count(Tier.FAMILY_DOCTOR) != 1:
        problems.append((Tier.FAMILY_DOCTOR, "a signing has exactly one family doctor's institution"))
    for tier in (Tier.DISTRICT_HOSPITAL, Tier.MUNICIPAL_HOSPITAL):
        if tiers.count(tier) > 1:
            problems.append((tier, f"at most one {TIER_LABELS[tier]}"))
    if len(combination) > MAX_INSTITUTIONS:
        problems.append(("institutions", f"at most {MAX_INSTITUTIONS} institutions in a 1+1+1 signing"))
    for tier, kind in combination:
        if kind not in TIER_KINDS[tier]:
            allowed = ", ".join(sorted(TIER_KINDS[tier]))
            message = f"an institution of kind {kind} cannot be the {TIER_LABELS[tier]} (allowed: {allowed})"
            problems.append((tier, message))
    return problems


def family_doctor_problems(*, profession: str, is_registered_gp: bool, active: bool) -> list[str]:
    """Why a staff member cannot be a resident's family doctor (empty when they can)."""
    problems = []
    if profession != Profession.FAMILY_DOCTOR:
        problems.append("the family doctor must be a general practitioner (全科医生)")
    elif not is_registered_gp:
        problems.append("the family doctor must be registered as a general practitioner")
    if not active:
        problems.append("the family doctor no longer works here")
    return problems


# Status transitions ------------------------------------------------------------------------------------

S = SigningStatus
TRANSITIONS: Mapping[SigningStatus, frozenset[SigningStatus]] = {
    S.PENDING: frozenset({S.ACTIVE, S.DECLINED}),
    S.ACTIVE: frozenset({S.EXPIRED, S.TERMINATED, S.TRANSFERRED}),
    S.EXPIRED: frozenset(),
    S.TERMINATED: frozenset(),
    S.TRANSFERRED: frozenset(),
    S.DECLINED: frozenset(),
}


class TransitionError(ValueError):
    """A signing cannot move from one status to another."""

    def __init__(self, from_status: str, to_status: str) -> None:
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(f"a signing that is {from_status} cannot become {to_status}")


def can_transition(from_status: str, to_status: str) -> bool:
    allowed = TRANSITIONS.get(SigningStatus(from_status)) if from_status in S.values else None
    return allowed is not None and to_status in allowed


def check_transition(from_status: str, to_status: str) -> None:
    """Raise TransitionError unless the table allows the change."""
    if not can_transition(from_status, to_status):
        raise TransitionError(from_status, to_status)


# Validity and renewal ----------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February falls on 1 March in a common year, so a
    period that starts on a leap day still lasts a full year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def default_end(start: date, years: int = 1) -> date:
    """The last day of a signing starting on `start`: one year minus a day (2026-03-01 → 2027-02-28,
    2028-02-29 → 2029-02-28, 2027-03-01 → 2028-02-29)."""
    return add_years(start, years) - timedelta(days=1)


def renewal_due(end: date, today: date, lead_days: int = DEFAULT_RENEWAL_LEAD_DAYS) -> bool:
    """Whether a signing ending on `end` may be renewed today: from `lead_days` before its last day on,
    including after it has lapsed."""
    return today >= end - timedelta(days=lead_days)


def renewal_start(end: date, today: date) -> date:
    """Where a renewal's period starts: the day after the old one ends, so an early renewal neither
    overlaps nor leaves a gap; after a lapse, today."""
    return max(end + timedelta(days=1), today)
