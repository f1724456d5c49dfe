"""What a report says, independent of its file format: sections of paragraphs, tables and charts built from
indicator rows (the `jiayi indicators` row shape) and, for the comprehensive evaluation, centre scores.

Pure: the database is read in `jiayi.reports.data`; the PDF, Word and Excel writers only lay this out.
Numbers stay numbers here (the Excel file keeps them computable); each column says how to show them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from jiayi.indicators.catalogue import INDICATORS, Indicator
from jiayi.reports.evaluation import CentreScore
from jiayi.reports.kinds import KINDS, ReportKind, period_label

Format = Literal["text", "int", "percent", "decimal", "money"]
Cell = str | int | float | Decimal | None

LEVEL_NAMES = {
    "district": "区",
    "street": "街道（镇）",
    "centre": "社区卫生服务中心",
    "team": "团队",
    "doctor": "家庭医生",
}
GROUP_NAMES = {"quantity": "数量", "quality": "质量", "satisfaction": "满意度"}
_BY_CODE: dict[str, Indicator] = {indicator.code: indicator for indicator in INDICATORS}


@dataclass(frozen=True)
class Column:
    title: str
    format: Format = "text"


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    sheet: str  # the Excel sheet's name (≤ 31 characters, unique in the report)


@dataclass(frozen=True)
class Chart:
    """Ranked bars of one measure over units, with the target as a line."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    target: float | None
    percent: bool


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    kind: ReportKind
    title: str
    subtitle: str
    issued_on: date
    sections: tuple[Section, ...]
    key_figures: Mapping[str, str] = field(default_factory=dict)  # code → the figure as printed

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]


@dataclass(frozen=True)
class ReportInputs:
    kind: ReportKind
    scope_level: str  # "district" or "centre"
    scope_name: str
    year: int
    quarter: int | None
    as_of: date
    headline: Sequence[Mapping[str, Any]]  # indicator rows of the scope's own unit
    breakdowns: Mapping[str, Sequence[Mapping[str, Any]]]  # level → rows of the units inside the scope
    scores: Sequence[CentreScore] = ()
    budget: Decimal | None = None
    funding: Mapping[int, Decimal] = field(default_factory=dict)
    activity: Mapping[str, int] = field(default_factory=dict)  # other counts of the period, by label


def format_value(value: Cell, fmt: Format) -> str:
    """A cell as printed in the PDF and Word files: percentages to one decimal, money to the fen."""
    if value is None:
        return "—"
    if fmt == "percent" and isinstance(value, int | float | Decimal):
        return f"{float(value) * 100:.1f}%"
    if fmt == "decimal" and isinstance(value, int | float | Decimal):
        return f"{float(value):.2f}"
    if fmt == "money" and isinstance(value, int | float | Decimal):
        return f"{Decimal(value):,.2f}"
    if fmt == "int" and isinstance(value, int | float | Decimal):
        return f"{int(value):,}"
    return str(value)


def _indicator(code: str) -> Indicator | None:
    return _BY_CODE.get(code)


def _fmt_of(code: str) -> Format:
    indicator = _indicator(code)
    return "percent" if indicator is None or indicator.unit == "percent" else "decimal"


def _name(code: str) -> str:
    indicator = _indicator(code)
    return indicator.name_zh if indicator is not None else code


def _status(met: bool | None) -> str:
    return "达标" if met else ("未达标" if met is False else "无目标")


def _sentence(row: Mapping[str, Any]) -> str:
    """One line of the overview: the indicator, its value, its target and whether it is met."""
    code = str(row["code"])
    fmt = _fmt_of(code)
    value = format_value(row.get("value"), fmt)
    if row.get("denominator", 0) == 0:
        return f"{_name(code)}：本期无统计对象。"
    text = f"{_name(code)}为 {value}（{row['numerator']:,}/{row['denominator']:,}）"
    target = row.get("target")
    if target is not None:
        text += f"，目标 {format_value(target, fmt)}，{_status(row.get('met'))}"
    return text + "。"


def _indicator_table(
    rows: Sequence[Mapping[str, Any]], codes: Sequence[str], title: str, sheet: str
) -> Table:
    by_code = {str(row["code"]): row for row in rows}
    out: list[tuple[Cell, ...]] = []
    for code in codes:
        row = by_code.get(code)
        if row is None:
            continue
        fmt = _fmt_of(code)
        value = row.get("value")
        target = row.get("target")
        out.append(
            (
                code,
                _name(code),
                int(row["numerator"]),
                int(row["denominator"]),
                format_value(value, fmt) if fmt != "percent" else value,
                format_value(target, fmt) if fmt != "percent" else target,
                _status(row.get("met")),
            )
        )
    return Table(
        title,
        (
            Column("指标代码"),
            Column("指标"),
            Column("分子", "int"),
            Column("分母", "int"),
            Column("值", "percent"),
            Column("目标", "percent"),
            Column("状态"),
        ),
        tuple(out),
        sheet,
    )


def _breakdown_table(
    rows: Sequence[Mapping[str, Any]], codes: Sequence[str], level: str, sheet: str
) -> Table:
    """Units as rows, the breakdown indicators' values as columns, best first on the first code."""
    units: dict[int, dict[str, Any]] = {}
    names: dict[int, str] = {}
    for row in rows:
        unit_id = int(row["unit_id"])
        names[unit_id] = str(row.get("unit_name") or unit_id)
        units.setdefault(unit_id, {})[str(row["code"])] = row.get("value")
    first = codes[0]
    ordered = sorted(units, key=lambda u: (-(units[u].get(first) or -1.0), names[u]))
    columns = (
        Column(LEVEL_NAMES.get(level, level)),
        *(Column(_name(code), _fmt_of(code)) for code in codes),
    )
    body = tuple((names[u], *(units[u].get(code) for code in codes)) for u in ordered)
    return Table(f"分{LEVEL_NAMES.get(level, level)}主要指标", columns, body, sheet)


def _chart(rows: Sequence[Mapping[str, Any]], code: str, level: str) -> Chart | None:
    chosen = [row for row in rows if row["code"] == code and row.get("value") is not None]
    if not chosen:
        return None
    chosen.sort(key=lambda row: -float(row["value"]))
    target = next((row.get("target") for row in chosen if row.get("target") is not None), None)
    return Chart(
        f"{_name(code)}（按{LEVEL_NAMES.get(level, level)}）",
        tuple(str(row.get("unit_name") or row["unit_id"]) for row in chosen),
        tuple(float(row["value"]) for row in chosen),
        float(target) if target is not None else None,
        _fmt_of(code) == "percent",
    )


def _summary(rows: Sequence[Mapping[str, Any]], codes: Sequence[str]) -> str:
    with_target = [row for row in rows if row["code"] in codes and row.get("met") is not None]
    met = sum(1 for row in with_target if row.get("met"))
    missed = [_name(str(row["code"])) for row in with_target if row.get("met") is False]
    text = f"本期纳入统计的有目标指标 {len(with_target)} 项，达标 {met} 项"
    if missed:
        text += "；未达标：" + "、".join(missed)
    return text + "。"


def _evaluation_section(inputs: ReportInputs) -> Section:
    scores = inputs.scores
    rows = tuple(
        (
            score.rank,
            score.name,
            score.group_total("quantity"),
            score.group_total("quality"),
            score.group_total("satisfaction"),
            score.total,
            inputs.funding.get(score.centre_id),
        )
        for score in scores
    )
    table = Table(
        "中心综合评价得分与经费分配",
        (
            Column("排名", "int"),
            Column("社区卫生服务中心"),
            Column(f"{GROUP_NAMES['quantity']}得分", "decimal"),
            Column(f"{GROUP_NAMES['quality']}得分", "decimal"),
            Column(f"{GROUP_NAMES['satisfaction']}得分", "decimal"),
            Column("总分", "decimal"),
            Column("分配经费（元）", "money"),
        ),
        rows,
        "综合评价",
    )
    detail_rows = tuple(
        (
            score.name,
            item.code,
            _name(item.code) if item.code in _BY_CODE else "居民满意度",
            GROUP_NAMES[item.group],
            item.value,
            item.points,
            item.weight,
        )
        for score in scores
        for item in score.items
    )
    detail = Table(
        "评分明细",
        (
            Column("中心"),
            Column("指标代码"),
            Column("指标"),
            Column("维度"),
            Column("值", "percent"),
            Column("得分", "decimal"),
            Column("权重", "decimal"),
        ),
        detail_rows,
        "评分明细",
    )
    paragraphs = [
        f"本次综合评价按数量、质量、满意度三个维度对 {len(scores)} 家社区卫生服务中心评分，"
        "各项得分 = 权重 × min(指标值 / 目标值, 上限)。",
    ]
    if scores:
        best = scores[0]
        paragraphs.append(f"总分最高的是{best.name}（{best.total:.2f} 分）。")
        lacking = [score.name for score in scores if score.missing]
        if lacking:
            paragraphs.append("以下中心部分指标本期无数据，按 0 分计：" + "、".join(lacking) + "。")
    if inputs.budget is not None:
        paragraphs.append(
            f"经费总额 {format_value(inputs.budget, 'money')} 元，按总分比例分配，精确到分，合计与总额一致。"
        )
    chart = Chart(
        "中心综合评价总分",
        tuple(score.name for score in scores),
        tuple(score.total for score in scores),
        None,
        False,
    )
    return Section("综合评价结果", tuple(paragraphs), (table, detail), (chart,) if scores else ())


def build_report(inputs: ReportInputs) -> ReportContent:
    """The report's sections for its kind: overview, indicator table, breakdowns with a chart, and the
    evaluation (comprehensive evaluation) or the period's activity (quarterly briefing)."""
    spec = KINDS[inputs.kind]
    period = period_label(inputs.year, inputs.quarter)
    subtitle = f"{inputs.scope_name} · {period} · 统计截至 {inputs.as_of.isoformat()}"
    overview = [
        f"本报告统计{inputs.scope_name}{period}（截至 {inputs.as_of.isoformat()}）的"
        f"{spec.title.removesuffix('报告')}情况，"
        "数据由家医平台指标引擎按指标定义实时计算。",
        _summary(inputs.headline, spec.codes),
    ]
    overview += [_sentence(row) for row in inputs.headline if row["code"] in spec.codes]
    sections: list[Section] = [
        Section(
            "一、总体情况",
            tuple(overview),
            (_indicator_table(inputs.headline, spec.codes, "主要指标", "主要指标"),),
        )
    ]
    number = ["二", "三", "四", "五", "六"]
    for index, (level, rows) in enumerate(inputs.breakdowns.items()):
        if not rows:
            continue
        chart = _chart(rows, spec.chart_code, level)
        sections.append(
            Section(
                f"{number[index]}、分{LEVEL_NAMES.get(level, level)}情况",
                (f"共 {len({row['unit_id'] for row in rows})} 个{LEVEL_NAMES.get(level, level)}。",),
                (
                    _breakdown_table(
                        rows, spec.breakdown_codes, level, f"分{LEVEL_NAMES.get(level, level)}"[:31]
                    ),
                ),
                (chart,) if chart is not None else (),
            )
        )
    if inputs.kind == ReportKind.COMPREHENSIVE_EVALUATION:
        sections.append(_evaluation_section(inputs))
    if inputs.activity:
        sections.append(
            Section(
                "本期工作动态",
                tuple(f"{label}：{count:,}。" for label, count in inputs.activity.items()),
                (
                    Table(
                        "本期工作量",
                        (Column("项目"), Column("数量", "int")),
                        tuple((label, count) for label, count in inputs.activity.items()),
                        "工作动态",
                    ),
                ),
            )
        )
    sections.append(
        Section(
            "附：指标口径",
            tuple(
                f"{_name(code)}（{code}）：{_BY_CODE[code].description}"
                for code in spec.codes
                if code in _BY_CODE
            ),
        )
    )
    key_figures = {
        str(row["code"]): format_value(row.get("value"), _fmt_of(str(row["code"])))
        for row in inputs.headline
        if row["code"] in spec.codes
    }
    return ReportContent(inputs.kind, spec.title, subtitle, inputs.as_of, tuple(sections), key_figures)
