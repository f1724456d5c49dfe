"""Vectorised generation of residents and households (numpy): a million people in a few seconds.

Ages are drawn from the configured pyramid first, so the district's age/sex structure matches the
figures exactly up to sampling noise; households are then formed by matching each non-head member to a
head of plausible age (spouse of similar age, children 22–38 years younger, parents older).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from jiayi.registry.choices import AlternativeIdType, Relationship, Sex
from jiayi.registry.identity import CHECK_CHARS, WEIGHTS, check_consistency, parse_citizen_id
from jiayi.synth.config import SynthConfig, name_data, reference_data

RELATIONSHIP_CODES = np.array(
    [
        Relationship.HEAD,
        Relationship.SPOUSE,
        Relationship.CHILD,
        Relationship.PARENT,
        Relationship.GRANDCHILD,
        Relationship.GRANDPARENT,
        Relationship.SIBLING,
    ],
    dtype=object,
)
HEAD, SPOUSE, CHILD, PARENT, GRANDCHILD, GRANDPARENT, SIBLING = range(7)
ALT_ID_TYPES = np.array(
    [
        AlternativeIdType.PASSPORT,
        AlternativeIdType.HK_MACAO_PERMIT,
        AlternativeIdType.TAIWAN_PERMIT,
        AlternativeIdType.FOREIGN_PERMANENT,
    ],
    dtype=object,
)


@dataclass(slots=True)
class People:
    """Column arrays, one entry per person, ordered by household (members of a household together)."""

    age: np.ndarray
    male: np.ndarray
    birth_ordinal: np.ndarray
    registered: np.ndarray
    living_here: np.ndarray
    household: np.ndarray  # household index 0..H-1
    relationship: np.ndarray  # index into RELATIONSHIP_CODES
    surname: np.ndarray  # index into the surname list
    given: np.ndarray  # str array
    region_code: np.ndarray  # int
    has_alt_id: np.ndarray
    death_ordinal: np.ndarray  # 0 = alive

    def __len__(self) -> int:
        return len(self.age)


def _sample_ages(bands: tuple[tuple[int, int, float], ...], n: int, rng: np.random.Generator) -> np.ndarray:
    shares = np.array([b[2] for b in bands])
    band = rng.choice(len(bands), size=n, p=shares / shares.sum())
    low = np.array([b[0] for b in bands])[band]
    high = np.array([b[1] for b in bands])[band]
    # Old-age bands thin out with age rather than being flat.
    u = rng.random(n)
    skew = np.where(low >= 65, u**1.6, u)
    ages: np.ndarray = (low + np.floor(skew * (high - low + 1))).astype(np.int64)
    return ages


def _birth_ordinals(age: np.ndarray, as_of: date, rng: np.random.Generator) -> np.ndarray:
    """A birth date for each age such that the completed age on `as_of` is exactly that age."""

    def anniversary(years_back: int) -> date:
        year = as_of.year - years_back
        try:
            return as_of.replace(year=year)
        except ValueError:  # 29 February in a common year
            return date(year, 2, 28)

    max_age = int(age.max()) if len(age) else 0
    hi = np.array([anniversary(a).toordinal() for a in range(max_age + 1)], dtype=np.int64)
    lo = np.array([anniversary(a + 1).toordinal() + 1 for a in range(max_age + 1)], dtype=np.int64)
    span = hi[age] - lo[age] + 1
    births: np.ndarray = lo[age] + np.floor(rng.random(len(age)) * span).astype(np.int64)
    return births


def _efraimidis_top(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a weighted sample of k without replacement (Efraimidis–Spirakis keys)."""
    keys = np.log(rng.random(len(weights))) / np.maximum(weights, 1e-12)
    if k >= len(weights):
        return np.argsort(-keys)
    return np.argpartition(-keys, k - 1)[:k]


def _form_households(
    age: np.ndarray, sizes_p: tuple[float, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group people into households. Returns (household index per person, is_head, head index per person)."""
    n = len(age)
    mean = float(np.dot(np.arange(1, len(sizes_p) + 1), sizes_p))
    sizes = rng.choice(np.arange(1, len(sizes_p) + 1), size=int(n / mean * 1.2) + 8, p=np.array(sizes_p))
    cum = np.cumsum(sizes)
    count = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(cum[count - 1] - n)
    adults = age >= 18
    if count > int(adults.sum()):
        # Not enough adults to head every household (tiny districts): merge the surplus into one.
        count = max(1, int(adults.sum()))
        base = np.full(count, n // count)
        base[: n % count] += 1
        sizes = base
    weights = np.where(adults, np.sqrt(np.maximum(age - 15, 1)), 1e-9)
    heads = _efraimidis_top(weights, count, rng)
    is_head = np.zeros(n, dtype=bool)
    is_head[heads] = True
    head_age = age[heads]

    members = np.flatnonzero(~is_head)
    m_age = age[members]
    u = rng.random(len(members))
    # Where each member would sit relative to its head, as the head's age we look for.
    target = np.where(
        m_age < 18,
        m_age + rng.uniform(22, 38, len(members)),
        np.where(
            u < 0.6,
            m_age + rng.normal(1.5, 3.0, len(members)),
            np.where(
                m_age < 45,
                m_age + rng.uniform(24, 34, len(members)),
                m_age - rng.uniform(24, 34, len(members)),
            ),
        ),
    )
    slots_head = np.repeat(np.arange(count), sizes - 1)
    slot_key = head_age[slots_head] + rng.normal(0, 2.0, len(slots_head))
    slot_order = slots_head[np.argsort(slot_key, kind="stable")]
    member_order = members[np.argsort(target, kind="stable")]
    household = np.empty(n, dtype=np.int64)
    household[heads] = np.arange(count)
    household[member_order] = slot_order
    head_of = heads[household]
    return household, is_head, head_of


def _relationships(
    age: np.ndarray, household: np.ndarray, is_head: np.ndarray, head_of: np.ndarray
) -> np.ndarray:
    d = age - age[head_of]
    rel = np.full(len(age), SIBLING, dtype=np.int64)
    rel[d <= -15] = CHILD
    rel[d <= -45] = GRANDCHILD
    rel[d >= 15] = PARENT
    rel[d >= 40] = GRANDPARENT
    spouse_candidate = (~is_head) & (age >= 20) & (np.abs(d) <= 12)
    candidates = np.flatnonzero(spouse_candidate)
    # The first candidate in each household becomes the spouse; any others stay siblings.
    _, first = np.unique(household[candidates], return_index=True)
    rel[candidates[first]] = SPOUSE
    rel[is_head] = HEAD
    return rel


def _group(
    n: int,
    bands: tuple[tuple[int, int, float], ...],
    cfg: SynthConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    age = _sample_ages(bands, n, rng)
    household, is_head, head_of = _form_households(age, cfg.household_size_shares, rng)
    rel = _relationships(age, household, is_head, head_of)
    p_male = np.where(age >= 80, 0.40, np.where(age >= 60, 0.47, 0.505))
    male = rng.random(n) < p_male
    spouses = rel == SPOUSE
    male[spouses] = ~male[head_of[spouses]]
    return age, male, household, rel, head_of


def generate_people(cfg: SynthConfig, rng: np.random.Generator) -> People:
    n_registered = round(cfg.residents * cfg.registered_share)
    n_migrant = cfg.residents - n_registered
    parts = []
    offset = 0
    for n, bands, is_registered in (
        (n_registered, cfg.registered_age_bands, True),
        (n_migrant, cfg.migrant_age_bands, False),
    ):
        if n == 0:
            continue
        age, male, household, rel, head_of = _group(n, bands, cfg, rng)
        parts.append((age, male, household + offset, rel, head_of, np.full(n, is_registered)))
        offset += int(household.max()) + 1

    age = np.concatenate([p[0] for p in parts])
    male = np.concatenate([p[1] for p in parts])
    household = np.concatenate([p[2] for p in parts])
    rel = np.concatenate([p[3] for p in parts])
    registered = np.concatenate([p[5] for p in parts])
    # head index within the concatenated arrays
    head_local = []
    base = 0
    for p in parts:
        head_local.append(p[4] + base)
        base += len(p[0])
    head_of = np.concatenate(head_local)

    order = np.lexsort((rel, household))  # households together, head first
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    age, male, household, rel, registered = (
        age[order],
        male[order],
        household[order],
        rel[order],
        registered[order],
    )
    head_of = inverse[head_of[order]]

    n = len(age)
    names = name_data()
    surname_p = np.array(names["surname_weights"], dtype=float)
    surname = rng.choice(len(surname_p), size=n, p=surname_p / surname_p.sum())
    descendants = (rel == CHILD) | (rel == GRANDCHILD)
    surname[descendants] = surname[head_of[descendants]]
    chars = np.array(names["given_chars"])
    first = chars[rng.integers(0, len(chars), n)]
    second = chars[rng.integers(0, len(chars), n)]
    given = np.where(rng.random(n) < 0.72, np.char.add(first, second), first)

    living_here = np.ones(n, dtype=bool)
    away = registered & (rng.random(n) < cfg.registered_not_living_here_share)
    living_here[away] = False

    ref = reference_data()
    others = np.array([int(c) for c in ref["other_region_codes"]], dtype=np.int64)
    region = np.where(
        registered & (rng.random(n) < 0.9), int(cfg.district_code), others[rng.integers(0, len(others), n)]
    )
    has_alt_id = (~registered) & (
        rng.random(n) < cfg.alternative_id_share / max(1e-9, 1 - cfg.registered_share)
    )

    birth = _birth_ordinals(age, cfg.as_of, rng)
    death = np.zeros(n, dtype=np.int64)
    dying = (age >= 80) & (rng.random(n) < cfg.deceased_share_80_plus)
    death[dying] = cfg.as_of.toordinal() - rng.integers(1, 730, int(dying.sum()))
    return People(
        age=age,
        male=male,
        birth_ordinal=birth,
        registered=registered,
        living_here=living_here,
        household=household,
        relationship=rel,
        surname=surname,
        given=given,
        region_code=region,
        has_alt_id=has_alt_id,
        death_ordinal=death,
    )


def yyyymmdd(ordinals: np.ndarray) -> np.ndarray:
    """Proleptic ordinals (date.toordinal) to YYYYMMDD integers, vectorised."""
    days = (ordinals - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    result: np.ndarray = y * 10000 + m * 100 + d
    return result


def citizen_ids(people: People) -> np.ndarray:
    """Valid, unique GB 11643 numbers (object array; '' for people identified otherwise)."""
    n = len(people)
    ymd = yyyymmdd(people.birth_ordinal)
    key = people.region_code * 100_000_000 + ymd
    sex = people.male.astype(np.int64)
    order = np.lexsort((sex, key))
    group = key[order] * 2 + sex[order]
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - run_start
    if n and int(rank.max()) > 498:
        raise ValueError("too many people share a region and birth date for unique citizen IDs")
    seq = np.where(people.male, 2 * rank + 1, 2 * rank + 2)
    digits = np.empty((n, 17), dtype=np.int64)
    for i in range(6):
        digits[:, i] = people.region_code // 10 ** (5 - i) % 10
    for i in range(8):
        digits[:, 6 + i] = ymd // 10 ** (7 - i) % 10
    for i in range(3):
        digits[:, 14 + i] = seq // 10 ** (2 - i) % 10
    check = np.array(list(CHECK_CHARS))[(digits @ np.array(WEIGHTS)) % 11]
    body = np.char.mod("%06d", people.region_code)
    body = np.char.add(body, np.char.mod("%08d", ymd))
    body = np.char.add(body, np.char.mod("%03d", seq))
    ids = np.char.add(body, check).astype(object)
    ids[people.has_alt_id] = ""
    return ids


def check_citizen_ids(people: People, ids: np.ndarray, *, sample: int, rng: np.random.Generator) -> None:
    """Parse a sample of the generated IDs with the same validator the API and admin use.

    Raises ValueError naming the person (by position) and the problem; a generator bug must never
    reach the database as an invalid identifier.
    """
    candidates = np.flatnonzero(ids != "")
    if len(candidates) == 0:
        return
    picked = candidates if len(candidates) <= sample else rng.choice(candidates, size=sample, replace=False)
    for i in np.sort(picked).tolist():
        try:
            parsed = parse_citizen_id(str(ids[i]))
        except ValueError as error:
            raise ValueError(f"generated person {i}: {error}") from None
        problems = check_consistency(
            parsed,
            birth_date=date.fromordinal(int(people.birth_ordinal[i])),
            sex=Sex.MALE.value if people.male[i] else Sex.FEMALE.value,
        )
        if problems:
            raise ValueError(f"generated person {i}: {'; '.join(problems)}")


def phones(people: People, rng: np.random.Generator) -> np.ndarray:
    n = len(people)
    prefix = rng.choice(
        np.array([13, 15, 17, 18, 19, 16, 14]), size=n, p=[0.3, 0.25, 0.12, 0.2, 0.08, 0.03, 0.02]
    )
    third = rng.integers(0, 10, n)
    rest = rng.integers(0, 100_000_000, n)
    numbers = np.char.add(np.char.mod("%02d", prefix), np.char.mod("%d", third))
    numbers = np.char.add(numbers, np.char.mod("%08d", rest)).astype(object)
    numbers[people.age < 16] = ""
    return numbers


def alternative_ids(people: People, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(people)
    kinds = np.full(n, "", dtype=object)
    numbers = np.full(n, "", dtype=object)
    idx = np.flatnonzero(people.has_alt_id)
    kinds[idx] = ALT_ID_TYPES[rng.integers(0, len(ALT_ID_TYPES), len(idx))]
    # Unique by construction: the person's position makes the number distinct.
    numbers[idx] = np.char.add("E", np.char.mod("%08d", idx + 10_000_000)).astype(object)
    return kinds, numbers


def date_strings(ordinals: np.ndarray) -> np.ndarray:
    days = (ordinals - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    return np.datetime_as_string(days, unit="D").astype(object)


def sex_codes(people: People) -> np.ndarray:
    return np.where(people.male, Sex.MALE.value, Sex.FEMALE.value).astype(object)


def relationship_codes(people: People) -> np.ndarray:
    codes: np.ndarray = np.array([str(c) for c in RELATIONSHIP_CODES], dtype=object)[people.relationship]
    return codes


def to_date(ordinal: int) -> date:
    return date.fromordinal(ordinal)


ONE_DAY = timedelta(days=1)
