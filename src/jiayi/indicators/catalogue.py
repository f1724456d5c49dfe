"""The indicator declarations (指标定义): every indicator as data, under its code in the district's
indicator specification.

Each side of the ratio is a source table (residents' facts, or committees, GPs, centres, posts, hospital
slots), a list of conditions over its columns (all must hold) and a measure (count the rows, or sum a
column). The engines compile these to SQL; nothing else in the code knows what an indicator means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Op = Literal["=", "!=", ">=", ">", "<=", "<"]
Condition = tuple[str, Op, bool | int]
Source = Literal["resident", "committee", "gp", "centre", "smart_post", "slot"]
Unit = Literal["percent", "per_10k", "per_centre"]

# The levels residents are counted at; hospitals are a level of their own, for the figures of the
# slots they offer (a resident belongs to no one hospital).
RESIDENT_LEVELS: tuple[str, ...] = ("district", "street", "centre", "team", "doctor")
LEVELS: tuple[str, ...] = (*RESIDENT_LEVELS, "hospital")
ALL_LEVELS = RESIDENT_LEVELS
UNIT_LEVELS: tuple[str, ...] = ("district", "street", "centre")
HOSPITAL_LEVELS: tuple[str, ...] = ("district", "hospital")
# The sources that have a hospital column: only they can be counted at the hospital level.
HOSPITAL_SOURCES = frozenset({"slot"})

# Resident-fact columns the declarations may use, with their SQL type: the snapshot writers and the
# checks below read this list.
RESIDENT_COLUMNS: dict[str, str] = {
    "age": "int",
    "lives_here": "bool",
    "signed": "bool",
    "key_population": "bool",
    "htn": "bool",
    "htn_followups": "int",
    "htn_standard": "bool",
    "htn_controlled": "bool",
    "dm": "bool",
    "dm_followups": "int",
    "dm_standard": "bool",
    "dm_controlled": "bool",
    "elderly_exam": "bool",
    "elderly_managed": "bool",
    "has_ehr": "bool",
    "ehr_dynamic": "bool",
    "ehr_standard": "bool",
    "visits": "int",
    "visits_in_combination": "int",
    "visits_at_signing_centre": "int",
    "visits_primary_care": "int",
    "assessed": "bool",
    "contacted_each_quarter": "bool",
    "report_sent": "bool",
    "mental": "bool",
    "mental_rehab": "bool",
}
UNIT_COLUMNS: dict[str, str] = {"flag": "bool", "reserved": "bool", "released": "bool"}
# Where a fact row is counted at each level: the resident facts' columns, and for the unit facts the
# same plus the hospital.
LEVEL_COLUMNS: dict[str, str] = {
    "district": "district_id",
    "street": "street_id",
    "centre": "centre_id",
    "team": "team_id",
    "doctor": "doctor_id",
}
UNIT_LEVEL_COLUMNS: dict[str, str] = {**LEVEL_COLUMNS, "hospital": "hospital_id"}


@dataclass(frozen=True)
class Side:
    """One side of a ratio: rows of `source` meeting every condition, counted or summed."""

    source: Source
    where: tuple[Condition, ...]
    measure: str | None = None  # None: count rows; else the integer column summed

    def columns(self) -> set[str]:
        names = {name for name, _, _ in self.where}
        if self.measure:
            names.add(self.measure)
        return names


@dataclass(frozen=True)
class Target:
    """A target value, for every district and year unless narrowed."""

    value: float
    district_code: str | None = None
    from_year: int | None = None


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    numerator: Side
    denominator: Side
    unit: Unit
    targets: tuple[Target, ...]
    description: str
    period: Literal["as_of", "year_to_date"] = "as_of"
    direction: Literal["up", "down"] = "up"
    levels: tuple[str, ...] = ALL_LEVELS
    additive: bool = True
    group: str = field(default="core")

    def target_for(self, district_code: str | None, year: int) -> float | None:
        """The most specific target: a district's own over the general one, the latest year over older."""
        best: tuple[int, int, float] | None = None
        for target in self.targets:
            if target.district_code is not None and target.district_code != district_code:
                continue
            if target.from_year is not None and target.from_year > year:
                continue
            rank = (target.district_code is not None, target.from_year or 0)
            key = (int(rank[0]), rank[1], target.value)
            if best is None or key[:2] >= best[:2]:
                best = key
        return None if best is None else best[2]

    def value(self, numerator: int, denominator: int) -> float | None:
        """numerator / denominator as a fraction (per 10,000 for workforce density); None for 0."""
        if denominator == 0:
            return None
        if self.unit == "per_10k":
            return numerator * 10000 / denominator
        return numerator / denominator

    def met(self, value: float | None, target: float | None) -> bool | None:
        if value is None or target is None:
            return None
        return value >= target if self.direction == "up" else value <= target


def _r(*where: Condition, measure: str | None = None) -> Side:
    return Side("resident", tuple(where), measure)


LIVES: Condition = ("lives_here", "=", True)
SIGNED: Condition = ("signed", "=", True)
AGED_65: Condition = ("age", ">=", 65)
RESERVED: Condition = ("reserved", "=", True)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "signing.coverage",
        "常住居民签约覆盖率",
        "Signing coverage of resident population",
        _r(LIVES, SIGNED),
        _r(LIVES),
        "percent",
        (Target(0.45), Target(0.48, from_year=2025)),
        "常住 residents alive on the reference date with a signing in force that day (active or expired "
        "later, not pending or declined; a terminated or transferred one until the day it ended) / 常住 "
        "residents alive that day. Unsigned residents count at their committee's responsible centre, "
        "serving team and designated family doctor.",
    ),
    Indicator(
        "signing.key_coverage",
        "重点人群签约覆盖率",
        "Signing coverage of key populations",
        _r(LIVES, ("key_population", "=", True), SIGNED),
        _r(LIVES, ("key_population", "=", True)),
        "percent",
        (Target(0.70), Target(0.80, from_year=2025)),
        "Key population on the reference date: aged 65+ or 0–6, a hypertension, type-2 diabetes or "
        "severe mental disorder diagnosis, or a declared membership in force (pregnant, disabled, "
        "poverty-registered, …). Signed as for signing coverage.",
    ),
    Indicator(
        "signing.visit_compliance",
        "签约社区就诊依从性",
        "Visits of signed residents inside their 1+1+1 combination",
        _r(SIGNED, measure="visits_in_combination"),
        _r(SIGNED, measure="visits"),
        "percent",
        (Target(0.80), Target(0.85, district_code="310118")),
        "Outpatient visits in the year to date of residents signed on the reference date made at their "
        "signing centre (or its branch centres and stations), at their signed district or municipal "
        "hospital, or anywhere on a family doctor's up-referral (the visit the referral desk recorded, "
        "or a hospital record linked to the referral) / all their outpatient visits.",
        period="year_to_date",
    ),
    Indicator(
        "signing.community_visit_rate",
        "签约居民社区就诊率",
        "Visits of signed residents at their signing centre",
        _r(SIGNED, measure="visits_at_signing_centre"),
        _r(SIGNED, measure="visits"),
        "percent",
        (Target(0.60),),
        "Outpatient visits in the year to date of signed residents made at their signing centre, its "
        "branch centres and stations / all their outpatient visits.",
        period="year_to_date",
    ),
    Indicator(
        "htn.signed_standard_rate",
        "签约高血压患者规范管理率",
        "Signed hypertensive patients managed to spec",
        _r(SIGNED, ("htn", "=", True), ("htn_standard", "=", True)),
        _r(SIGNED, ("htn", "=", True)),
        "percent",
        (Target(0.80),),
        "Under management: enrolled in the hypertension programme on the reference date (residents never "
        "enrolled: an active I10–I15 diagnosis dated on or before it). Managed to spec: face-to-face "
        "follow-ups recording BP (programme follow-ups and clinic or home measurements, one a day) since "
        "the later of the period start and the start of management ≥ the full quarters under management "
        "in the period (4 for a full year; none before a first full quarter, when everyone is managed "
        "to spec).",
        period="year_to_date",
    ),
    Indicator(
        "dm.signed_standard_rate",
        "签约糖尿病患者规范管理率",
        "Signed type-2 diabetes patients managed to spec",
        _r(SIGNED, ("dm", "=", True), ("dm_standard", "=", True)),
        _r(SIGNED, ("dm", "=", True)),
        "percent",
        (Target(0.80),),
        "As for hypertension, with an active type-2 diabetes diagnosis (E11) and face-to-face follow-ups "
        "recording fasting glucose.",
        period="year_to_date",
    ),
    Indicator(
        "facility.smart_posts_new",
        "各社区新建智慧健康驿站",
        "New smart health posts per centre",
        Side("smart_post", (("flag", "=", True),)),
        Side("centre", ()),
        "per_centre",
        (Target(1.0),),
        "Smart health posts (institutions of kind smart_health_post) opened from the period start to the "
        "reference date / community health centres open on the reference date. A value of 1 means one "
        "new post per centre.",
        period="year_to_date",
        levels=UNIT_LEVELS,
    ),
    Indicator(
        "elderly.management_rate",
        "老年人健康管理率",
        "Health management rate of residents aged 65+",
        _r(LIVES, AGED_65, ("elderly_managed", "=", True)),
        _r(LIVES, AGED_65),
        "percent",
        (Target(0.70),),
        "65+ 常住 residents who in the year to date have a health record and a physical exam whose form "
        "is complete in all four parts (lifestyle assessment, physical exam, tests, health guidance), or "
        "a complete 65+ care year / 65+ 常住 residents on the reference date.",
        period="year_to_date",
    ),
    Indicator(
        "elderly.signed_management_rate",
        "签约老年人健康管理率",
        "Health management rate of signed residents aged 65+",
        _r(SIGNED, AGED_65, ("elderly_managed", "=", True)),
        _r(SIGNED, AGED_65),
        "percent",
        (Target(0.90),),
        "As for the elderly management rate, among residents aged 65+ signed on the reference date.",
        period="year_to_date",
    ),
    Indicator(
        "elderly.exam_to_signed",
        "实际体检老年人数/签约老年人数",
        "Residents aged 65+ examined / signed residents aged 65+",
        _r(LIVES, AGED_65, ("elderly_exam", "=", True)),
        _r(SIGNED, AGED_65),
        "percent",
        (Target(0.25),),
        "65+ 常住 residents with an elderly physical exam (any completeness) in the year to date / 65+ "
        "residents signed on the reference date. Not a proportion of one population: it may exceed 1.",
        period="year_to_date",
    ),
    Indicator(
        "ehr.filing_rate",
        "常住居民电子健康档案建档率",
        "Electronic health record filing rate",
        _r(LIVES, ("has_ehr", "=", True)),
        _r(LIVES),
        "percent",
        (Target(0.75),),
        "常住 residents with a health-record number (健康档案编号) / 常住 residents.",
    ),
    Indicator(
        "ehr.signed_standard_rate",
        "签约居民电子健康档案规范建档率",
        "Signed residents with a complete, dynamic record",
        _r(SIGNED, ("ehr_standard", "=", True)),
        _r(SIGNED),
        "percent",
        (Target(1.0),),
        "Signed residents whose record has a number, the basic fields (name, sex, birth date, citizen ID "
        "or alternative ID, phone, committee, address) and a visit, measurement or exam in the 12 months "
        "to the reference date / signed residents.",
    ),
    Indicator(
        "workforce.gp_per_10k",
        "每万人全科医生数",
        "Registered GPs per 10,000 residents",
        Side("gp", ()),
        _r(LIVES),
        "per_10k",
        (Target(4.5),),
        "Active staff registered as general practitioners, counted at their institution's centre and "
        "street / (常住 residents counted at their committee's centre and street ÷ 10,000).",
        levels=UNIT_LEVELS,
        additive=False,
    ),
    Indicator(
        "committee.designated_doctor",
        "居委会指定家庭医生覆盖",
        "Committees with a designated family doctor",
        Side("committee", (("flag", "=", True),)),
        Side("committee", ()),
        "percent",
        (Target(1.0),),
        "Residential and village committees with a designated family doctor / all committees, counted "
        "at the committee's street, responsible centre and serving team.",
        levels=("district", "street", "centre", "team"),
    ),
    # The "three ones" of the signing service.
    Indicator(
        "signing.annual_assessment_rate",
        "签约居民年度健康评估率",
        "Signed residents assessed this year",
        _r(SIGNED, ("assessed", "=", True)),
        _r(SIGNED),
        "percent",
        (Target(1.0),),
        "Residents signed on the reference date with a yearly health assessment dated in the year to date "
        "/ residents signed on the reference date.",
        period="year_to_date",
        group="three_ones",
    ),
    Indicator(
        "signing.quarterly_contact_rate",
        "签约居民每季度主动联系率",
        "Signed residents contacted every quarter",
        _r(SIGNED, ("contacted_each_quarter", "=", True)),
        _r(SIGNED),
        "percent",
        (Target(1.0),),
        "Residents signed on the reference date reached by an active contact (a call, message or visit "
        "that reached them, or a follow-up done) in every quarter of the year fully elapsed by the "
        "reference date (in the first quarter: in it so far) / signed residents.",
        period="year_to_date",
        group="three_ones",
    ),
    Indicator(
        "signing.annual_report_rate",
        "签约居民年度健康报告发送率",
        "Signed residents sent their yearly report",
        _r(SIGNED, ("report_sent", "=", True)),
        _r(SIGNED),
        "percent",
        (Target(1.0),),
        "Residents signed on the reference date who were sent their yearly health report in the year to "
        "date / signed residents.",
        period="year_to_date",
        group="three_ones",
    ),
    Indicator(
        "community.outpatient_share",
        "社区门诊就诊占比",
        "Community share of outpatient visits",
        _r(LIVES, measure="visits_primary_care"),
        _r(LIVES, measure="visits"),
        "percent",
        (Target(0.40),),
        "Outpatient visits in the year to date of 常住 residents at community health centres, branch "
        "centres, stations and village clinics / all their outpatient visits.",
        period="year_to_date",
    ),
    Indicator(
        "mental.community_rehab_coverage",
        "严重精神障碍患者社区康复覆盖率",
        "Severe mental disorder patients in community rehabilitation",
        _r(LIVES, ("mental", "=", True), ("mental_rehab", "=", True)),
        _r(LIVES, ("mental", "=", True)),
        "percent",
        (Target(0.70),),
        "常住 residents with an active severe mental disorder diagnosis (ICD-10 F20–F25, F28, F29, F31) "
        "dated on or before the reference date who were in the community rehabilitation programme "
        "(社区康复) at some time in the period: enrolled on or before the reference date and not ended "
        "before the period start / those residents.",
        period="year_to_date",
    ),
    # National basic public health service spec rates.
    Indicator(
        "htn.standard_rate",
        "高血压患者规范管理率",
        "Hypertensive patients managed to spec",
        _r(LIVES, ("htn", "=", True), ("htn_standard", "=", True)),
        _r(LIVES, ("htn", "=", True)),
        "percent",
        (Target(0.60),),
        "As for signed patients, among all 常住 hypertensive patients under management.",
        period="year_to_date",
        group="national",
    ),
    Indicator(
        "htn.control_rate",
        "管理人群血压控制率",
        "Blood pressure control among managed patients",
        _r(LIVES, ("htn", "=", True), ("htn_controlled", "=", True)),
        _r(LIVES, ("htn", "=", True)),
        "percent",
        (Target(0.60),),
        "Patients whose last face-to-face BP in the year to date was below 140/90 (below 150/90 from age "
        "65) / 常住 hypertensive patients under management. No follow-up counts as not controlled.",
        period="year_to_date",
        group="national",
    ),
    Indicator(
        "dm.standard_rate",
        "糖尿病患者规范管理率",
        "Type-2 diabetes patients managed to spec",
        _r(LIVES, ("dm", "=", True), ("dm_standard", "=", True)),
        _r(LIVES, ("dm", "=", True)),
        "percent",
        (Target(0.60),),
        "As for signed patients, among all 常住 type-2 diabetes patients under management.",
        period="year_to_date",
        group="national",
    ),
    Indicator(
        "dm.control_rate",
        "管理人群血糖控制率",
        "Glucose control among managed patients",
        _r(LIVES, ("dm", "=", True), ("dm_controlled", "=", True)),
        _r(LIVES, ("dm", "=", True)),
        "percent",
        (Target(0.60),),
        "Patients whose last face-to-face fasting glucose in the year to date was below 7.0 mmol/L / 常住 "
        "type-2 diabetes patients under management. No follow-up counts as not controlled.",
        period="year_to_date",
        group="national",
    ),
    Indicator(
        "ehr.use_rate",
        "健康档案使用率",
        "Health records in use",
        _r(LIVES, ("has_ehr", "=", True), ("ehr_dynamic", "=", True)),
        _r(LIVES, ("has_ehr", "=", True)),
        "percent",
        (Target(0.60),),
        "Records of 常住 residents with a visit, measurement or exam in the 12 months to the reference date "
        "/ records of 常住 residents.",
        group="national",
    ),
    # Reserved specialist slots (预留号源) per hospital: slots whose start falls in the period.
    Indicator(
        "referral.reserved_share",
        "专家号源预留比例",
        "Share of hospital slots reserved for family doctors",
        Side("slot", (RESERVED,)),
        Side("slot", ()),
        "percent",
        (Target(0.20, district_code="310105"), Target(0.10, district_code="310107")),
        "Slots of the hospital starting from the period start to the end of the reference date that were "
        "generated into the pool reserved for family doctors (still reserved, or released later) / all its "
        "slots starting then. Targets are the districts' reserved shares: 20% in Changning, 10% in Putuo; "
        "other districts have none.",
        period="year_to_date",
        levels=HOSPITAL_LEVELS,
        group="referral",
    ),
    Indicator(
        "referral.reserved_slot_utilisation",
        "预留号源使用率",
        "Reserved slots booked by family doctors",
        Side("slot", (RESERVED, ("flag", "=", True))),
        Side("slot", (RESERVED,)),
        "percent",
        (),
        "Reserved slots of the hospital starting in the period that a family doctor booked for a signed "
        "resident (held, booked, seen or missed; not cancelled or expired holds) / reserved slots "
        "starting in the period. No target: the specification sets none, and the release to the public "
        "pool keeps unused slots from being lost.",
        period="year_to_date",
        levels=HOSPITAL_LEVELS,
        group="referral",
    ),
    Indicator(
        "referral.reserved_slot_release_rate",
        "预留号源释放率",
        "Reserved slots released unused to the public pool",
        Side("slot", (RESERVED, ("released", "=", True))),
        Side("slot", (RESERVED,)),
        "percent",
        (),
        "Reserved slots of the hospital starting in the period that nobody booked by the release lead "
        "time and went to the public pool / reserved slots starting in the period. Lower is better "
        "(more of the reserve reaches signed residents); no target is set.",
        period="year_to_date",
        direction="down",
        levels=HOSPITAL_LEVELS,
        group="referral",
    ),
)

BY_CODE: dict[str, Indicator] = {indicator.code: indicator for indicator in INDICATORS}


def get(code: str) -> Indicator:
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown indicator code {code!r}") from None


def check_catalogue() -> list[str]:
    """Problems in the declarations: unknown columns or levels. Empty when all is well (tested)."""
    problems: list[str] = []
    for indicator in INDICATORS:
        for side_name, side in (("numerator", indicator.numerator), ("denominator", indicator.denominator)):
            known = RESIDENT_COLUMNS if side.source == "resident" else UNIT_COLUMNS
            for column in side.columns():
                if column not in known:
                    problems.append(f"{indicator.code}.{side_name}: unknown column {column!r}")
        for level in indicator.levels:
            if level not in LEVELS:
                problems.append(f"{indicator.code}: unknown level {level!r}")
        sources = {indicator.numerator.source, indicator.denominator.source}
        if "hospital" in indicator.levels and not sources <= HOSPITAL_SOURCES:
            problems.append(f"{indicator.code}: only slot figures can be counted at the hospital level")
    return problems
