"""The yearly personal health report (年度个人健康报告): a Chinese PDF per signed resident, with their
measurements, blood-pressure trend, risks, plan and the services received in the year.

Rendered with reportlab's built-in CID font STSong-Light (no font file needed) and its own charts.
The report holds the resident's name, sex and age, never an identity number or a phone number.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from jiayi.care.choices import (
    AssessmentClassChoice,
    ContactOutcome,
    FollowUpClassChoice,
    FollowUpStatus,
    HypertensionStratumChoice,
    PlanItemKind,
    ReportStatus,
)
from jiayi.care.models import (
    Assessment,
    Contact,
    ElderlyCareYear,
    FollowUp,
    PlanItem,
    ReportBatch,
    YearlyReport,
)
from jiayi.records.choices import ObservationCode
from jiayi.records.models import Observation
from jiayi.registry.identity import age_on
from jiayi.registry.models import Resident
from jiayi.signing.choices import SigningStatus
from jiayi.signing.models import Signing

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
SEX_LABELS = {"male": "男", "female": "女", "unknown": "未知"}


def _zh(label: str) -> str:
    return label.partition(" ")[0]


@dataclass
class ReportData:
    """What a yearly report shows, gathered in a few queries."""

    year: int
    name: str
    sex: str
    age: int
    family_doctor: str
    assessment: Assessment | None
    bp_readings: list[tuple[date, int, int]] = field(default_factory=list)
    latest: dict[str, tuple[float, str]] = field(default_factory=dict)
    plan: list[tuple[str, str, date]] = field(default_factory=list)
    follow_ups_done: int = 0
    follow_ups_controlled: int = 0
    contacts_reached: int = 0
    elderly_complete: bool | None = None


LATEST_CODES = {
    ObservationCode.WEIGHT: "体重",
    ObservationCode.BMI: "体质指数",
    ObservationCode.WAIST: "腰围",
    ObservationCode.FASTING_GLUCOSE: "空腹血糖",
    ObservationCode.HBA1C: "糖化血红蛋白",
    ObservationCode.TOTAL_CHOLESTEROL: "总胆固醇",
    ObservationCode.HDL: "高密度脂蛋白胆固醇",
}


def gather(resident: Resident, year: int) -> ReportData:
    start, end = date(year, 1, 1), date(year, 12, 31)
    signing = (
        Signing.objects.filter(resident=resident, starts_on__lte=end, ends_on__gte=start)
        .exclude(status__in=[SigningStatus.PENDING, SigningStatus.DECLINED])
        .select_related("family_doctor")
        .order_by("-starts_on")
        .first()
    )
    data = ReportData(
        year=year,
        name=resident.name,
        sex=SEX_LABELS.get(resident.sex, ""),
        age=age_on(resident.birth_date, min(end, timezone.localdate())),
        family_doctor=signing.family_doctor.name if signing is not None else "",
        assessment=Assessment.objects.filter(resident=resident, year=year).first(),
    )
    follow_ups = FollowUp.objects.filter(
        resident=resident, status=FollowUpStatus.DONE, performed_on__range=(start, end)
    ).order_by("performed_on")
    for performed_on, sbp, dbp, classification in follow_ups.values_list(
        "performed_on", "sbp", "dbp", "classification"
    ):
        data.follow_ups_done += 1
        data.follow_ups_controlled += classification == FollowUpClassChoice.CONTROLLED
        if performed_on is not None and sbp is not None and dbp is not None:
            data.bp_readings.append((performed_on, sbp, dbp))
    readings: dict[datetime, dict[str, float]] = {}
    observations = Observation.objects.filter(
        resident=resident, effective_at__date__range=(start, end)
    ).values_list("code", "value", "unit", "effective_at")
    for code, value, unit, at in observations.order_by("effective_at"):
        if code in (ObservationCode.SYSTOLIC_BP, ObservationCode.DIASTOLIC_BP):
            readings.setdefault(at, {})[code] = value
        elif code in LATEST_CODES:
            data.latest[LATEST_CODES[ObservationCode(code)]] = (value, unit)
    for at, pair in readings.items():
        if ObservationCode.SYSTOLIC_BP in pair and ObservationCode.DIASTOLIC_BP in pair:
            data.bp_readings.append(
                (
                    timezone.localtime(at).date(),
                    round(pair[ObservationCode.SYSTOLIC_BP]),
                    round(pair[ObservationCode.DIASTOLIC_BP]),
                )
            )
    data.bp_readings.sort()
    data.plan = [
        (_zh(PlanItemKind(kind).label), text, due_on)
        for kind, text, due_on in PlanItem.objects.filter(resident=resident, done_on__isnull=True)
        .order_by("due_on")
        .values_list("kind", "text", "due_on")[:15]
    ]
    data.contacts_reached = Contact.objects.filter(
        resident=resident, outcome=ContactOutcome.REACHED, at__date__range=(start, end)
    ).count()
    elderly = ElderlyCareYear.objects.filter(resident=resident, year=year).first()
    data.elderly_complete = elderly.complete if elderly is not None else None
    return data


def _bp_chart(readings: list[tuple[date, int, int]]) -> Drawing:
    drawing = Drawing(170 * mm, 60 * mm)
    chart = LinePlot()
    # Points (1 mm ≈ 2.83 pt): the chart fills the drawing below its legend.
    chart.x, chart.y = 34, 23
    chart.width, chart.height = 425, 128
    origin = readings[0][0]
    chart.data = [
        [((day - origin).days, sbp) for day, sbp, _dbp in readings],
        [((day - origin).days, dbp) for day, _sbp, dbp in readings],
    ]
    chart.lines[0].strokeColor = colors.HexColor("#b03a2e")
    chart.lines[1].strokeColor = colors.HexColor("#1f618d")
    chart.yValueAxis.valueMin = 40
    chart.yValueAxis.valueMax = 200
    chart.xValueAxis.labels.fontName = FONT
    chart.xValueAxis.valueMin = 0
    chart.xValueAxis.valueMax = max(1, (readings[-1][0] - origin).days)
    chart.xValueAxis.labelTextFormat = lambda days: ""  # dates are in the table below the chart
    drawing.add(chart)
    drawing.add(
        String(14 * mm, 55 * mm, "血压趋势（mmHg）：红线收缩压，蓝线舒张压", fontName=FONT, fontSize=9)
    )
    return drawing


def render_pdf(data: ReportData) -> bytes:
    """The report as PDF bytes."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{data.year}年度个人健康报告",
        author="家庭医生签约服务",
    )
    title = ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15)
    table_style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 9.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8c4c2")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f1ef")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        made = Table(rows, colWidths=[w * mm for w in widths])
        made.setStyle(table_style)
        return made

    story: list[Any] = [
        Paragraph(f"{data.year}年度个人健康报告", title),
        Paragraph(
            f"姓名：{data.name}　性别：{data.sex}　年龄：{data.age}岁　"
            f"家庭医生：{data.family_doctor or '未签约'}",
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph("一、健康评估与风险", heading),
    ]
    a = data.assessment
    if a is not None:
        rows = [
            ["项目", "结果"],
            ["评估日期", a.performed_on.isoformat()],
            ["人群分类", _zh(AssessmentClassChoice(a.classification).label)],
        ]
        if a.sbp is not None:
            rows.append(["血压", f"{a.sbp}/{a.dbp} mmHg"])
        if a.bmi is not None:
            rows.append(["体质指数", f"{a.bmi:.1f} kg/m²"])
        if a.china_par_risk is not None:
            rows.append(["10年心脑血管病风险（China-PAR）", f"{a.china_par_risk * 100:.1f}%"])
        if a.diabetes_score is not None:
            rows.append(
                [
                    "糖尿病风险评分",
                    f"{a.diabetes_score}分" + ("（建议做OGTT）" if a.diabetes_score >= 25 else ""),
                ]
            )
        if a.hypertension_stratum:
            rows.append(
                ["高血压心血管风险分层", _zh(HypertensionStratumChoice(a.hypertension_stratum).label)]
            )
        story.append(table(rows, [70, 100]))
    else:
        story.append(Paragraph("本年度尚未完成健康评估。", body))

    story.append(Paragraph("二、测量结果与趋势", heading))
    if data.latest:
        story.append(
            table(
                [["指标", "最近一次"]]
                + [[name, f"{value:g} {unit}"] for name, (value, unit) in data.latest.items()],
                [70, 100],
            )
        )
    if len(data.bp_readings) >= 2:
        story.append(_bp_chart(data.bp_readings))
    if data.bp_readings:
        story.append(
            table(
                [["日期", "血压（mmHg）"]]
                + [[day.isoformat(), f"{sbp}/{dbp}"] for day, sbp, dbp in data.bp_readings[-12:]],
                [70, 100],
            )
        )
    if not data.latest and not data.bp_readings:
        story.append(Paragraph("本年度没有测量记录。", body))

    story.append(Paragraph("三、健康管理计划", heading))
    if data.plan:
        story.append(
            table(
                [["类别", "内容", "完成期限"]] + [[k, t, d.isoformat()] for k, t, d in data.plan],
                [30, 100, 40],
            )
        )
    else:
        story.append(Paragraph("暂无待完成的计划项目。", body))

    story.append(Paragraph("四、本年度接受的服务", heading))
    services_rows = [
        ["服务", "次数/情况"],
        ["慢病随访", f"{data.follow_ups_done}次（控制满意{data.follow_ups_controlled}次）"],
        ["家庭医生主动联系", f"{data.contacts_reached}次"],
        ["年度健康评估", "已完成" if a is not None else "未完成"],
    ]
    if data.elderly_complete is not None:
        services_rows.append(["老年人健康管理", "已完成" if data.elderly_complete else "未完成"])
    story.append(table(services_rows, [70, 100]))
    story.append(Spacer(1, 6 * mm))
    story.append(
        Paragraph("如有疑问，请联系您的家庭医生团队。本报告仅供健康管理参考，不作为诊断依据。", body)
    )
    doc.build(story)
    return buffer.getvalue()


def do_generate_report(resident: Resident, year: int) -> YearlyReport:
    """Generate (or regenerate) the resident's report of the year."""
    pdf = render_pdf(gather(resident, year))
    with transaction.atomic():
        report, _created = YearlyReport.objects.update_or_create(
            resident=resident, year=year, defaults={"pdf": pdf, "generated_at": timezone.now()}
        )
    return report


def centre_residents(batch: ReportBatch) -> Any:
    """Residents with a signing of the batch's centre active at some point in its year."""
    start, end = date(batch.year, 1, 1), date(batch.year, 12, 31)
    return Resident.objects.filter(
        pk__in=Signing.objects.filter(
            centre=batch.centre_id,
            starts_on__lte=end,
            ends_on__gte=start,
            status__in=[SigningStatus.ACTIVE, SigningStatus.EXPIRED],
        ).values("resident")
    ).order_by("id")


PROGRESS_EVERY = 20


def run_batch(batch: ReportBatch, *, on_progress: Callable[[int, int], None] | None = None) -> ReportBatch:
    """Generate the reports of a centre's batch, saving progress as it goes."""
    residents = centre_residents(batch)
    batch.total = residents.count()
    batch.done = 0
    batch.status = ReportStatus.RUNNING
    batch.save(update_fields=["total", "done", "status"])
    try:
        for resident in residents.iterator(chunk_size=200):
            do_generate_report(resident, batch.year)
            batch.done += 1
            if batch.done % PROGRESS_EVERY == 0 or batch.done == batch.total:
                batch.save(update_fields=["done"])
                if on_progress is not None:
                    on_progress(batch.done, batch.total)
    except Exception as exc:  # a failed batch must show as failed, not stay "running" forever
        batch.status = ReportStatus.FAILED
        batch.error = type(exc).__name__[:200]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "error", "finished_at", "done"])
        raise
    batch.status = ReportStatus.DONE
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "finished_at", "done"])
    return batch
