"""Identity matching (身份匹配): how much an incoming person record looks like a registered resident.

A record that carries a citizen ID is matched on it alone: equal IDs are the same person, different IDs
are different people. Without one, four demographic elements each add their weight to a score in 0–1:

=============  ======  =====================================================================
element        weight  credit
=============  ======  =====================================================================
name           0.35    full when equal (spaces and case ignored); half when the family name
                       (first character) agrees and one other character differs (a typo or a
                       homophone: 王小明 / 王晓明)
birth date     0.30    full when equal; 0.4 of it when day and month are swapped or exactly one of
                       year, month, day differs (a digit typed wrong)
sex            0.10    full when equal
phone          0.25    full when the last 11 digits agree; nothing when either side has none
=============  ======  =====================================================================

Thresholds: at or above `AUTO_LINK` (0.90: name, birth date and phone agree) the record is linked
without asking; from `REVIEW` (0.55: name and birth date; a near name, birth date and sex; birth date
and phone) to `AUTO_LINK` an administrator or centre manager decides in the review queue; below
`REVIEW` the record becomes a new provisional person. Pure functions: no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

WEIGHTS: dict[str, float] = {"name": 0.35, "birth_date": 0.30, "sex": 0.10, "phone": 0.25}
AUTO_LINK = 0.90
REVIEW = 0.55
NEAR_NAME = 0.5
NEAR_BIRTH_DATE = 0.4

LINK = "link"
REVIEW_QUEUE = "review"
PROVISIONAL = "provisional"


@dataclass(frozen=True, slots=True)
class Person:
    """The identifying elements of a person record, from a feed or from the registry."""

    name: str
    birth_date: date | None
    sex: str
    phone: str = ""
    citizen_id: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    """A match score and what each element contributed (element → points), for the review page."""

    total: float
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return decide(self.total)


def decide(total: float) -> str:
    """What a score leads to: link, the review queue, or a new provisional person."""
    if total >= AUTO_LINK:
        return LINK
    if total >= REVIEW:
        return REVIEW_QUEUE
    return PROVISIONAL


def normalise_name(name: str) -> str:
    return "".join(name.split()).casefold()


def phone_digits(phone: str) -> str:
    """The last 11 digits: a +86 or 0086 prefix and separators do not make two numbers differ."""
    return "".join(ch for ch in phone if ch.isdigit())[-11:]


def name_credit(a: str, b: str) -> float:
    x, y = normalise_name(a), normalise_name(b)
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    if len(x) == len(y) and x[0] == y[0] and sum(p != q for p, q in zip(x, y, strict=True)) == 1:
        return NEAR_NAME
    return 0.0


def birth_date_credit(a: date | None, b: date | None) -> float:
    if a is None or b is None:
        return 0.0
    if a == b:
        return 1.0
    same = (a.year == b.year, a.month == b.month, a.day == b.day)
    swapped = a.year == b.year and a.month == b.day and a.day == b.month
    if sum(same) == 2 or swapped:
        return NEAR_BIRTH_DATE
    return 0.0


def score(incoming: Person, candidate: Person) -> Score:
    """How likely `incoming` and `candidate` are the same person (see the module's table)."""
    if incoming.citizen_id and candidate.citizen_id:
        same = incoming.citizen_id.upper() == candidate.citizen_id.upper()
        return Score(1.0 if same else 0.0, {"citizen_id": 1.0 if same else 0.0})
    credits = {
        "name": name_credit(incoming.name, candidate.name),
        "birth_date": birth_date_credit(incoming.birth_date, candidate.birth_date),
        "sex": 1.0 if incoming.sex and incoming.sex == candidate.sex else 0.0,
        "phone": 1.0
        if phone_digits(incoming.phone) and phone_digits(incoming.phone) == phone_digits(candidate.phone)
        else 0.0,
    }
    parts = {name: round(WEIGHTS[name] * credit, 4) for name, credit in credits.items()}
    return Score(round(sum(parts.values()), 4), parts)


def best_match(incoming: Person, candidates: list[tuple[int, Person]]) -> tuple[int, Score] | None:
    """The highest-scoring candidate (id, score); ties go to the lowest id, so the result is stable."""
    best: tuple[int, Score] | None = None
    for key, candidate in sorted(candidates, key=lambda c: c[0]):
        found = score(incoming, candidate)
        if best is None or found.total > best[1].total:
            best = (key, found)
    return best
