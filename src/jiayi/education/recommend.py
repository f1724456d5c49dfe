"""Which articles suit a resident (个性化健康教育推荐), from their record, free of the database.

An article tagged with conditions or risks is for the people who have one of them; an untagged article is
general advice, shown to anyone in its age band and sex. The care plan's education topics (健康管理计划
的健康教育项) count most: the doctor chose them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Plan item codes of jiayi.care.plan → the library's topics.
PLAN_TOPICS: dict[str, tuple[str, ...]] = {
    "education:hypertension": ("hypertension",),
    "education:diabetes": ("diabetes",),
    "education:cvd_prevention": ("hypertension", "smoking", "diet", "exercise"),
    "education:falls": ("falls",),
    "education:healthy_lifestyle": ("diet", "exercise"),
    "goal:quit_smoking": ("smoking",),
    "goal:exercise": ("exercise",),
    "goal:salt": ("diet",),
    "goal:weight": ("diet",),
}

# Risk thresholds, as the care and records rules use them.
HIGH_SBP = 140.0
HIGH_DBP = 90.0
HIGH_FASTING_GLUCOSE = 6.1  # mmol/L, impaired fasting glucose
HIGH_HBA1C = 6.5  # %
OVERWEIGHT_BMI = 24.0  # the Chinese cut-off
FALL_RISK_AGE = 75
FALL_HISTORY_PREFIXES = ("W0", "W10", "W18", "W19", "S72")  # falls, hip fracture


@dataclass(frozen=True, slots=True)
class Profile:
    """What the recommender knows of a resident."""

    age: int
    sex: str
    conditions: frozenset[str] = frozenset()  # ICD-10 codes of active diagnoses
    risks: frozenset[str] = frozenset()
    plan_codes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Tags:
    """What the recommender knows of an article."""

    article_id: int
    topic: str
    icd10_prefixes: tuple[str, ...] = ()
    risk_tags: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    sex: str = ""


@dataclass(frozen=True, slots=True)
class Recommendation:
    article_id: int
    score: int
    reasons: tuple[str, ...] = field(default=())


def risks_from(
    *,
    age: int,
    conditions: Iterable[str],
    sbp: float | None = None,
    dbp: float | None = None,
    fasting_glucose: float | None = None,
    hba1c: float | None = None,
    bmi: float | None = None,
    smoker: bool = False,
    inactive: bool = False,
) -> frozenset[str]:
    """Risk tags from the latest measurements and answers: raised readings count even before a diagnosis."""
    risks: set[str] = set()
    if (sbp is not None and sbp >= HIGH_SBP) or (dbp is not None and dbp >= HIGH_DBP):
        risks.add("high_bp")
    if (fasting_glucose is not None and fasting_glucose >= HIGH_FASTING_GLUCOSE) or (
        hba1c is not None and hba1c >= HIGH_HBA1C
    ):
        risks.add("high_glucose")
    if bmi is not None and bmi >= OVERWEIGHT_BMI:
        risks.add("overweight")
    if smoker:
        risks.add("smoker")
    if inactive:
        risks.add("inactive")
    if age >= FALL_RISK_AGE or (
        age >= 65 and any(code.upper().startswith(FALL_HISTORY_PREFIXES) for code in conditions)
    ):
        risks.add("fall_risk")
    return frozenset(risks)


def fits(profile: Profile, tags: Tags) -> bool:
    """The article's age band and sex include the resident."""
    if tags.min_age is not None and profile.age < tags.min_age:
        return False
    if tags.max_age is not None and profile.age > tags.max_age:
        return False
    return not tags.sex or tags.sex == profile.sex


def score(profile: Profile, tags: Tags) -> Recommendation | None:
    """How well an article suits the resident, with the reasons; None when it does not suit them."""
    if not fits(profile, tags):
        return None
    reasons: list[str] = []
    points = 0
    plan_topics = {t for code in profile.plan_codes for t in PLAN_TOPICS.get(code, ())}
    if tags.topic in plan_topics:
        points += 4
        reasons.append("plan")
    matched = sorted(
        code for code in profile.conditions if any(code.upper().startswith(p) for p in tags.icd10_prefixes)
    )
    if matched:
        points += 3
        reasons.append("condition:" + matched[0])
    risks = sorted(profile.risks.intersection(tags.risk_tags))
    if risks:
        points += 2
        reasons.append("risk:" + risks[0])
    targeted = bool(tags.icd10_prefixes or tags.risk_tags)
    if targeted and not (matched or risks or "plan" in reasons):
        return None
    if not targeted:
        points += 1
        reasons.append("general")
    if tags.min_age is not None or tags.max_age is not None or tags.sex:
        # Written for the resident's stage of life: ranks above advice for everyone.
        points += 1
        reasons.append("age")
    return Recommendation(tags.article_id, points, tuple(reasons))


def recommend(
    profile: Profile, articles: Iterable[Tags], *, read: Iterable[int] = (), limit: int = 8
) -> list[Recommendation]:
    """The best-suited articles, unread before read, then by score, then by id for a stable order."""
    done = set(read)
    scored = [r for r in (score(profile, tags) for tags in articles) if r is not None]
    scored.sort(key=lambda r: (r.article_id in done, -r.score, r.article_id))
    return scored[:limit]
