"""The report kinds the district issues (seed 002, annex part 2, and its quarterly briefing), with their
indicators and the dates they are due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class ReportKind(StrEnum):
    SIGNING_ANALYSIS = "signing_analysis"
    PUBLIC_HEALTH_PERFORMANCE = "public_health_performance"
    COMPREHENSIVE_EVALUATION = "comprehensive_evaluation"
    QUARTERLY_BRIEFING = "quarterly_briefing"


@dataclass(frozen=True)
class KindSpec:
    kind: ReportKind
    title: str  # Chinese, as the annex names it
    title_en: str
    codes: tuple[str, ...]  # indicator codes in the report's tables, in order
    breakdown_codes: tuple[str, ...]  # the few shown per sub-district / centre / team
    chart_code: str  # the indicator drawn as ranked bars
    due: str  # when the annex wants it, in words


SIGNING_CODES = (
    "signing.coverage",
    "signing.key_coverage",
    "signing.visit_compliance",
    "signing.community_visit_rate",
    "signing.annual_assessment_rate",
    "signing.quarterly_contact_rate",
    "signing.annual_report_rate",
    "htn.signed_standard_rate",
    "dm.signed_standard_rate",
    "elderly.signed_management_rate",
    "ehr.signed_standard_rate",
)
PUBLIC_HEALTH_CODES = (
    "ehr.filing_rate",
    "ehr.use_rate",
    "elderly.management_rate",
    "elderly.exam_to_signed",
    "htn.standard_rate",
    "htn.control_rate",
    "dm.standard_rate",
    "dm.control_rate",
    "mental.community_rehab_coverage",
)
CORE_CODES = (
    "signing.coverage",
    "signing.key_coverage",
    "signing.visit_compliance",
    "htn.signed_standard_rate",
    "dm.signed_standard_rate",
    "facility.smart_posts_new",
    "elderly.management_rate",
    "elderly.signed_management_rate",
    "elderly.exam_to_signed",
    "ehr.filing_rate",
    "ehr.signed_standard_rate",
    "workforce.gp_per_10k",
    "committee.designated_doctor",
)

KINDS: dict[ReportKind, KindSpec] = {
    ReportKind.SIGNING_ANALYSIS: KindSpec(
        ReportKind.SIGNING_ANALYSIS,
        "家庭医生签约服务年度分析报告",
        "Family-doctor signing: annual analysis",
        SIGNING_CODES,
        ("signing.coverage", "signing.key_coverage", "signing.visit_compliance", "htn.signed_standard_rate"),
        "signing.coverage",
        "市签约服务年度考核结果公布后 1 个月内",
    ),
    ReportKind.PUBLIC_HEALTH_PERFORMANCE: KindSpec(
        ReportKind.PUBLIC_HEALTH_PERFORMANCE,
        "社区基本公共卫生服务项目绩效评价报告",
        "Basic public health services: performance evaluation",
        PUBLIC_HEALTH_CODES,
        ("ehr.filing_rate", "elderly.management_rate", "htn.standard_rate", "dm.standard_rate"),
        "elderly.management_rate",
        "次年 1 月底前",
    ),
    ReportKind.COMPREHENSIVE_EVALUATION: KindSpec(
        ReportKind.COMPREHENSIVE_EVALUATION,
        "社区卫生服务综合评价报告",
        "Community health services: comprehensive evaluation",
        CORE_CODES,
        ("signing.coverage", "elderly.management_rate", "htn.signed_standard_rate", "ehr.filing_rate"),
        "signing.coverage",
        "次年 2 月底前",
    ),
    ReportKind.QUARTERLY_BRIEFING: KindSpec(
        ReportKind.QUARTERLY_BRIEFING,
        "社区卫生服务综合管理工作简报",
        "Community health services: quarterly briefing",
        (*CORE_CODES, "signing.quarterly_contact_rate"),
        ("signing.coverage", "signing.key_coverage", "htn.signed_standard_rate", "dm.signed_standard_rate"),
        "signing.coverage",
        "每季度结束后报区卫健委",
    ),
}


def due_on(kind: ReportKind, year: int, quarter: int | None = None) -> date | None:
    """The date a report on `year` (and `quarter`) is due, where the annex fixes one.

    The signing analysis is due a month after the city publishes its assessment, a date the city sets
    each year, so it has none here.
    """
    if kind == ReportKind.PUBLIC_HEALTH_PERFORMANCE:
        return date(year + 1, 1, 31)
    if kind == ReportKind.COMPREHENSIVE_EVALUATION:
        return date(year + 1, 2, 28) if (year + 1) % 4 else date(year + 1, 2, 29)
    if kind == ReportKind.QUARTERLY_BRIEFING:
        if quarter is None:
            raise ValueError("quarter: a quarterly briefing needs a quarter (1–4)")
        end = period_end(year, quarter)
        # Operational choice: within 15 days of the quarter's end.
        return end + timedelta(days=15)
    return None


def period_end(year: int, quarter: int | None) -> date:
    """The last day of the year or of its quarter."""
    if quarter is None:
        return date(year, 12, 31)
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter: must be 1–4, got {quarter}")
    month = quarter * 3
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def reference_date(year: int, quarter: int | None, today: date) -> date:
    """The as-of date of a report: the period's last day, or today while the period is still running."""
    end = period_end(year, quarter)
    return min(end, today)


def period_label(year: int, quarter: int | None) -> str:
    return f"{year} 年" if quarter is None else f"{year} 年第 {quarter} 季度"


def reports_due(today: date) -> list[tuple[ReportKind, int, int | None]]:
    """The reports a district should be issuing on `today`: the briefing on the quarter that just ended
    (in the 15 days after it), and the previous year's performance evaluation (in January) and
    comprehensive evaluation (in January and February). The signing analysis waits for the city's
    results, so it is never due by date alone."""
    due: list[tuple[ReportKind, int, int | None]] = []
    quarter_now = (today.month - 1) // 3 + 1
    last_quarter, last_year = (quarter_now - 1, today.year) if quarter_now > 1 else (4, today.year - 1)
    briefing_due = due_on(ReportKind.QUARTERLY_BRIEFING, last_year, last_quarter)
    if briefing_due is not None and today <= briefing_due:
        due.append((ReportKind.QUARTERLY_BRIEFING, last_year, last_quarter))
    if today.month == 1:
        due.append((ReportKind.PUBLIC_HEALTH_PERFORMANCE, today.year - 1, None))
    if today.month in (1, 2):
        due.append((ReportKind.COMPREHENSIVE_EVALUATION, today.year - 1, None))
    return due
