"""The street health portrait (街道健康画像): per sub-district, and per committee inside one, the
health index distribution, the prevalence of chronic conditions, the risk bands of the yearly
assessments and the lifestyle factors they record.

Figures are aggregates of at least `threshold` people: a count from 1 to threshold - 1 is shown as
"<threshold" and its rate withheld, so that no cell can single a person out.

The health index (健康指数) is this platform's composite, 0-100 per assessed resident: 100 minus
points for each thing the yearly assessment or the record shows that raises the risk of disease or
death. The weights follow the relative risks reported in the China Kadoorie Biobank papers in broad
strokes (a chronic condition or raised blood pressure weighs most, lifestyle factors less); they are
documented here so a district can tune them, not fitted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Max, QuerySet

from jiayi.care import risk
from jiayi.care.models import Assessment
from jiayi.records.choices import ClinicalStatus
from jiayi.records.models import Condition
from jiayi.registry.choices import PlaceLevel
from jiayi.registry.models import Place, Resident

# ICD-10 groups of the chronic conditions community health services manage, by three-character prefix.
CHRONIC_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hypertension": ("高血压 Hypertension", ("I10", "I11", "I12", "I13", "I15")),
    "diabetes": ("糖尿病 Diabetes", ("E10", "E11", "E12", "E13", "E14")),
    "coronary": ("冠心病 Coronary heart disease", ("I20", "I21", "I22", "I23", "I24", "I25")),
    "stroke": ("脑卒中 Stroke", ("I60", "I61", "I62", "I63", "I64", "I69")),
    "copd": ("慢阻肺 COPD", ("J44",)),
    "ckd": ("慢性肾病 Chronic kidney disease", ("N18",)),
    "dementia": ("认知障碍 Dementia", ("F00", "F01", "F02", "F03", "G30")),
    "cancer": ("恶性肿瘤 Cancer", tuple(f"C{i:02d}" for i in range(98))),
}
_GROUP_OF_PREFIX = {prefix: key for key, (_, prefixes) in CHRONIC_GROUPS.items() for prefix in prefixes}
ACTIVE_STATUSES = (ClinicalStatus.ACTIVE, ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)

INDEX_BANDS: tuple[tuple[str, int, int], ...] = (
    ("<60", 0, 59),
    ("60-69", 60, 69),
    ("70-79", 70, 79),
    ("80-89", 80, 89),
    ("90-100", 90, 100),
)
RISK_KEYS = ("china_par_low", "china_par_medium", "china_par_high", "cdrs_high")
CLASS_KEYS = ("healthy", "high_risk", "patient", "recovering")
LIFESTYLE_KEYS = ("smoking", "daily_drinking", "no_exercise", "heavy_salt", "overweight", "raised_bp")
CDRS_OGTT_FROM = 25
OVERWEIGHT_BMI = 24.0  # Chinese adult criteria (WS/T 428-2013): 24 overweight, 28 obese
OBESE_BMI = 28.0


@dataclass(frozen=True)
class AssessmentFacts:
    """What the index reads from one resident's latest yearly assessment and record."""

    chronic_conditions: int
    smoking_current: bool
    drinking_daily: bool
    no_exercise: bool
    heavy_salt: bool
    bmi: float | None
    sbp: int | None
    dbp: int | None
    china_par_risk: float | None
    diabetes_score: int | None


def health_index(f: AssessmentFacts) -> int:
    """The 0-100 health index of one assessed resident (see the module's docstring)."""
    points = 100
    points -= 10 * min(f.chronic_conditions, 3)
    if (f.sbp is not None and f.sbp >= 140) or (f.dbp is not None and f.dbp >= 90):
        points -= 10
    if f.china_par_risk is not None:
        category = risk.china_par_category(f.china_par_risk)
        points -= {"low": 0, "medium": 5, "high": 10}[category.value]
    if f.diabetes_score is not None and f.diabetes_score >= CDRS_OGTT_FROM:
        points -= 5
    if f.bmi is not None:
        points -= 10 if f.bmi >= OBESE_BMI else 5 if f.bmi >= OVERWEIGHT_BMI else 0
    points -= 10 if f.smoking_current else 0
    points -= 5 if f.drinking_daily else 0
    points -= 5 if f.no_exercise else 0
    points -= 5 if f.heavy_salt else 0
    return max(0, min(100, points))


def index_band(index: int) -> str:
    for label, low, high in INDEX_BANDS:
        if low <= index <= high:
            return label
    raise ValueError(f"health index {index} is outside 0-100")


def chronic_group(icd10: str) -> str | None:
    """The chronic-condition group of an ICD-10 code, or None for codes outside them."""
    return _GROUP_OF_PREFIX.get(icd10.strip().upper()[:3])


@dataclass(frozen=True)
class Cell:
    """A suppressed count: `count` is None when it could single someone out."""

    count: int | None
    display: str
    rate: float | None  # per 100 of the denominator

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "display": self.display, "rate": self.rate}


def cell(count: int, denominator: int, threshold: int) -> Cell:
    """A count with its rate per 100, suppressed when 0 < count < threshold or the denominator is small."""
    if 0 < count < threshold:
        return Cell(None, f"<{threshold}", None)
    if denominator < max(threshold, 1):
        return Cell(count if count == 0 else None, "0" if count == 0 else f"<{threshold}", None)
    return Cell(count, str(count), round(100.0 * count / denominator, 1))


@dataclass
class _Tally:
    population: int = 0
    aged_65: int = 0
    assessed: int = 0
    index_sum: int = 0
    bands: dict[str, int] = field(default_factory=lambda: dict.fromkeys([b[0] for b in INDEX_BANDS], 0))
    conditions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHRONIC_GROUPS, 0))
    risks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RISK_KEYS, 0))
    classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASS_KEYS, 0))
    lifestyle: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIFESTYLE_KEYS, 0))


@dataclass(frozen=True)
class AreaPortrait:
    code: str
    name: str
    population: Cell
    aged_65: Cell
    assessed: Cell
    index_mean: float | None
    index_bands: dict[str, Cell]
    conditions: dict[str, Cell]
    risks: dict[str, Cell]
    classes: dict[str, Cell]
    lifestyle: dict[str, Cell]

    def condition_cells(self) -> list[Cell]:
        return [self.conditions[k] for k in CHRONIC_GROUPS]

    def band_cells(self) -> list[Cell]:
        return [self.index_bands[b[0]] for b in INDEX_BANDS]

    def risk_cells(self) -> list[Cell]:
        return [self.risks[k] for k in RISK_KEYS] + [self.classes[k] for k in CLASS_KEYS]

    def lifestyle_cells(self) -> list[Cell]:
        return [self.lifestyle[k] for k in LIFESTYLE_KEYS]

    def as_dict(self) -> dict[str, Any]:
        def cells(d: dict[str, Cell]) -> dict[str, Any]:
            return {k: v.as_dict() for k, v in d.items()}

        return {
            "code": self.code,
            "name": self.name,
            "population": self.population.as_dict(),
            "aged_65": self.aged_65.as_dict(),
            "assessed": self.assessed.as_dict(),
            "index_mean": self.index_mean,
            "index_bands": cells(self.index_bands),
            "conditions": cells(self.conditions),
            "risks": cells(self.risks),
            "classes": cells(self.classes),
            "lifestyle": cells(self.lifestyle),
        }


@dataclass(frozen=True)
class Portrait:
    year: int | None
    level: str
    parent: Place | None
    areas: list[AreaPortrait]
    threshold: int
    population: int
    condition_totals: dict[str, int]

    def prevalence_ranking(self) -> list[tuple[str, str, Cell]]:
        """Chronic-condition groups over all shown areas together, highest prevalence first."""
        rows = [
            (key, label, cell(self.condition_totals[key], self.population, self.threshold))
            for key, (label, _) in CHRONIC_GROUPS.items()
        ]
        return sorted(rows, key=lambda r: (-self.condition_totals[r[0]], r[0]))


def _assessment_year(on: date | None) -> int | None:
    qs = Assessment.objects.all()
    if on is not None:
        qs = qs.filter(year__lte=on.year)
    found = qs.aggregate(y=Max("year"))["y"]
    return int(found) if found is not None else None


def build_portrait(
    committees: QuerySet[Place],
    *,
    threshold: int,
    parent: Place | None = None,
    year: int | None = None,
    on: date | None = None,
) -> Portrait:
    """The portrait of sub-districts (parent None) or of the committees of one sub-district, over the
    committees the caller may see. `year` picks the yearly assessments (default: the latest)."""
    today = on or date.today()
    year = year if year is not None else _assessment_year(today)
    if parent is None:
        level = PlaceLevel.SUB_DISTRICT
        scope = committees
        area_of_committee = dict(scope.values_list("pk", "parent_id"))
        areas = list(Place.objects.filter(pk__in=set(area_of_committee.values())).order_by("code"))
    else:
        level = PlaceLevel.COMMITTEE
        scope = committees.filter(parent=parent)
        area_of_committee = {pk: pk for pk in scope.values_list("pk", flat=True)}
        areas = list(scope.order_by("code"))
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    residents = Resident.objects.filter(
        committee__in=list(area_of_committee), date_of_death__isnull=True, is_resident=True
    )
    area_of_resident: dict[int, int] = {}
    cutoff_65 = date(today.year - 65, today.month, min(today.day, 28))
    for rid, committee_id, birth in residents.values_list("pk", "committee_id", "birth_date").iterator():
        area = area_of_committee[committee_id]
        area_of_resident[rid] = area
        t = tallies[area]
        t.population += 1
        t.aged_65 += birth <= cutoff_65
    groups_of: dict[int, set[str]] = defaultdict(set)
    conditions = Condition.objects.filter(
        resident__in=residents, clinical_status__in=ACTIVE_STATUSES
    ).values_list("resident_id", "code")
    for rid, code in conditions.iterator():
        group = chronic_group(code)
        if group is not None:
            groups_of[rid].add(group)
    for rid, groups in groups_of.items():
        for group in groups:
            tallies[area_of_resident[rid]].conditions[group] += 1
    if year is not None:
        _tally_assessments(
            Assessment.objects.filter(year=year, resident__in=residents).values_list(
                "resident_id",
                "smoking",
                "drinking",
                "exercise",
                "salt_intake",
                "bmi",
                "sbp",
                "dbp",
                "china_par_risk",
                "diabetes_score",
                "classification",
            ),
            area_of_resident,
            groups_of,
            tallies,
        )
    return Portrait(
        year=year,
        level=level,
        parent=parent,
        areas=[_area(p, tallies[p.pk], threshold) for p in areas],
        threshold=threshold,
        population=sum(t.population for t in tallies.values()),
        condition_totals={k: sum(t.conditions[k] for t in tallies.values()) for k in CHRONIC_GROUPS},
    )


def _tally_assessments(
    rows: Iterable[tuple[Any, ...]],
    area_of_resident: dict[int, int],
    groups_of: dict[int, set[str]],
    tallies: dict[int, _Tally],
) -> None:
    for rid, smoking, drinking, exercise, salt, bmi, sbp, dbp, par, cdrs, klass in rows:
        t = tallies[area_of_resident[rid]]
        facts = AssessmentFacts(
            chronic_conditions=len(groups_of.get(rid, ())),
            smoking_current=smoking == "current",
            drinking_daily=drinking == "daily",
            no_exercise=exercise == "none",
            heavy_salt=salt == "heavy",
            bmi=bmi,
            sbp=sbp,
            dbp=dbp,
            china_par_risk=par,
            diabetes_score=cdrs,
        )
        index = health_index(facts)
        t.assessed += 1
        t.index_sum += index
        t.bands[index_band(index)] += 1
        if par is not None:
            t.risks[f"china_par_{risk.china_par_category(par).value}"] += 1
        t.risks["cdrs_high"] += cdrs is not None and cdrs >= CDRS_OGTT_FROM
        if klass in t.classes:
            t.classes[klass] += 1
        t.lifestyle["smoking"] += facts.smoking_current
        t.lifestyle["daily_drinking"] += facts.drinking_daily
        t.lifestyle["no_exercise"] += facts.no_exercise
        t.lifestyle["heavy_salt"] += facts.heavy_salt
        t.lifestyle["overweight"] += bmi is not None and bmi >= OVERWEIGHT_BMI
        t.lifestyle["raised_bp"] += (sbp is not None and sbp >= 140) or (dbp is not None and dbp >= 90)


def _area(place: Place, t: _Tally, threshold: int) -> AreaPortrait:
    def of_assessed(d: dict[str, int]) -> dict[str, Cell]:
        return {k: cell(v, t.assessed, threshold) for k, v in d.items()}

    shown_mean = t.assessed >= max(threshold, 1)
    return AreaPortrait(
        code=place.code,
        name=place.name,
        population=cell(t.population, t.population, threshold),
        aged_65=cell(t.aged_65, t.population, threshold),
        assessed=cell(t.assessed, t.population, threshold),
        index_mean=round(t.index_sum / t.assessed, 1) if shown_mean and t.assessed else None,
        index_bands=of_assessed(t.bands),
        conditions={k: cell(v, t.population, threshold) for k, v in t.conditions.items()},
        risks=of_assessed(t.risks),
        classes=of_assessed(t.classes),
        lifestyle=of_assessed(t.lifestyle),
    )
