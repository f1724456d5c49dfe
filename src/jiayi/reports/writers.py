"""A report's content written as PDF (reportlab), Word (python-docx) and Excel (openpyxl, a sheet a table).

The PDF embeds a subset of the machine's CJK font so the text is extractable and displays everywhere;
without one it falls back to reportlab's built-in Adobe CID font (STSong-Light), which readers supply.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Literal
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from jiayi.reports.charts import bar_chart_png, cjk_font_file
from jiayi.reports.content import ReportContent, Table, format_value

FileFormat = Literal["pdf", "docx", "xlsx"]
FORMATS: tuple[FileFormat, ...] = ("pdf", "docx", "xlsx")
CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CJK_FONT_NAME = "JiayiCJK"
FALLBACK_FONT = "STSong-Light"
HEADER_FILL = "DCE8F4"


@cache
def _pdf_font() -> str:
    path = cjk_font_file()
    if path is not None:
        pdfmetrics.registerFont(TTFont(CJK_FONT_NAME, str(path), subfontIndex=0))
        return CJK_FONT_NAME
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=1, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, alignment=1, textColor=colors.grey),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=13, leading=20, spaceBefore=10, spaceAfter=4
        ),
        "table_title": ParagraphStyle("table_title", parent=base, fontSize=10, leading=14, spaceBefore=6),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
    }


def _pdf_table(table: Table, styles: dict[str, ParagraphStyle], width: float) -> LongTable:
    header = [Paragraph(escape(column.title), styles["cell"]) for column in table.columns]
    body = [
        [
            Paragraph(escape(format_value(cell, column.format)), styles["cell"])
            for cell, column in zip(row, table.columns, strict=True)
        ]
        for row in table.rows
    ]
    # Names and codes need room; figures do not.
    shares = [2.0 if column.format == "text" else 1.0 for column in table.columns]
    widths = [width * share / sum(shares) for share in shares]
    flowable = LongTable([header, *body], colWidths=widths, repeatRows=1)
    flowable.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(f"#{HEADER_FILL}")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return flowable


def write_pdf(content: ReportContent) -> bytes:
    font = _pdf_font()
    styles = _styles(font)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=content.title,
        author="jiayi 家医",
    )
    width = A4[0] - 4 * cm
    story: list[Flowable] = [
        Paragraph(escape(content.title), styles["title"]),
        Paragraph(escape(content.subtitle), styles["subtitle"]),
        Spacer(1, 0.5 * cm),
    ]
    for section in content.sections:
        if section.heading.startswith("附"):
            story.append(PageBreak())
        story.append(Paragraph(escape(section.heading), styles["heading"]))
        story += [Paragraph(escape(text), styles["body"]) for text in section.paragraphs]
        for table in section.tables:
            story.append(Paragraph(escape(table.title), styles["table_title"]))
            story.append(_pdf_table(table, styles, width))
        for chart in section.charts:
            png = bar_chart_png(chart)
            image = Image(io.BytesIO(png))
            scale = width / image.drawWidth
            image.drawWidth, image.drawHeight = width, image.drawHeight * scale
            story += [Spacer(1, 0.3 * cm), image]

    def footer(canvas: object, doc: object) -> None:
        canvas.setFont(font, 8)  # type: ignore[attr-defined]
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"{content.title} · 第 {doc.page} 页")  # type: ignore[attr-defined]

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _docx_font(run_or_style: object, size: float | None = None) -> None:
    """Word takes East Asian text's font from a separate attribute; set both so Chinese renders."""
    font = run_or_style.font  # type: ignore[attr-defined]
    font.name = "SimSun"
    if size is not None:
        font.size = Pt(size)
    element = run_or_style.element  # type: ignore[attr-defined]
    properties = element.get_or_add_rPr() if hasattr(element, "get_or_add_rPr") else element.rPr
    if properties is not None:
        properties.rFonts.set(qn("w:eastAsia"), "SimSun")


def write_docx(content: ReportContent) -> bytes:
    document = Document()
    _docx_font(document.styles["Normal"], 10.5)
    for section in document.sections:
        section.left_margin = section.right_margin = Cm(2)
    title = document.add_heading(content.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle = document.add_paragraph(content.subtitle)
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for part in content.sections:
        document.add_heading(part.heading, level=1)
        for text in part.paragraphs:
            document.add_paragraph(text)
        for table in part.tables:
            document.add_paragraph(table.title).runs[0].bold = True
            grid = document.add_table(rows=1, cols=len(table.columns))
            grid.style = "Table Grid"
            for cell, column in zip(grid.rows[0].cells, table.columns, strict=True):
                cell.text = column.title
            for row in table.rows:
                cells = grid.add_row().cells
                for cell, value, column in zip(cells, row, table.columns, strict=True):
                    cell.text = format_value(value, column.format)
        for chart in part.charts:
            document.add_picture(io.BytesIO(bar_chart_png(chart)), width=Cm(16))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "Sheet"
    candidate, counter = cleaned, 2
    while candidate in used:
        suffix = f"_{counter}"
        candidate, counter = cleaned[: 31 - len(suffix)] + suffix, counter + 1
    used.add(candidate)
    return candidate


def write_xlsx(content: ReportContent) -> bytes:
    """One sheet per table with real numbers (percentages as number formats), plus a cover sheet."""
    workbook = Workbook()
    cover = workbook.active
    assert cover is not None  # a new workbook always has its first sheet
    cover.title = "封面"
    cover["A1"] = content.title
    cover["A1"].font = Font(size=16, bold=True)
    cover["A2"] = content.subtitle
    for offset, (code, figure) in enumerate(content.key_figures.items(), start=4):
        cover.cell(row=offset, column=1, value=code)
        cover.cell(row=offset, column=2, value=figure)
    cover.column_dimensions["A"].width = 36
    used = {"封面"}
    for table in content.tables():
        sheet = workbook.create_sheet(_sheet_name(table.sheet, used))
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append([column.title for column in table.columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
            cell.alignment = Alignment(horizontal="center")
        for row in table.rows:
            sheet.append([float(v) if not isinstance(v, str | int | float | type(None)) else v for v in row])
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = 14 if column.format != "text" else 24
            number_format = {"percent": "0.0%", "decimal": "0.00", "money": "#,##0.00", "int": "#,##0"}.get(
                column.format
            )
            if number_format:
                for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
                    if isinstance(cell.value, int | float):
                        cell.number_format = number_format
        sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write(content: ReportContent, file_format: str) -> bytes:
    if file_format == "pdf":
        return write_pdf(content)
    if file_format == "docx":
        return write_docx(content)
    if file_format == "xlsx":
        return write_xlsx(content)
    raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {file_format!r}")
