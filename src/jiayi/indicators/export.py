"""Indicator rows as an Excel workbook (openpyxl): one sheet of rows, one of the definitions."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from jiayi.indicators import catalogue

COLUMNS = ["code", "level", "unit_id", "unit_name", "numerator", "denominator", "value", "target", "met"]


def xlsx_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = "indicators"
    sheet.append(
        [
            "指标代码 code",
            "层级 level",
            "单位 unit_id",
            "单位名称 unit_name",
            "分子 numerator",
            "分母 denominator",
            "值 value",
            "目标 target",
            "达标 met",
        ]
    )
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    definitions = book.create_sheet("definitions")
    definitions.append(["code", "名称", "name", "unit", "how computed"])
    for indicator in catalogue.INDICATORS:
        definitions.append(
            [indicator.code, indicator.name_zh, indicator.name_en, indicator.unit, indicator.description]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
