"""Report charts drawn with matplotlib into PNG bytes, with a CJK font so Chinese labels render."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and workers

from matplotlib import font_manager
from matplotlib import pyplot as plt

from jiayi.reports.content import Chart

# Debian's fonts-wqy-zenhei, installed by the set-up script; other CJK fonts are tried in turn.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)


@cache
def cjk_font_file() -> Path | None:
    """The first CJK font on this machine, or None (then Chinese labels would show as boxes)."""
    for path in CJK_FONT_FILES:
        if path.exists():
            return path
    return None


@cache
def _font_family() -> str | None:
    path = cjk_font_file()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def bar_chart_png(chart: Chart, *, width_in: float = 7.0, max_bars: int = 30) -> bytes:
    """Horizontal ranked bars (best on top) with the target as a dashed line."""
    family = _font_family()
    labels = list(chart.labels[:max_bars])
    values = [v * 100 if chart.percent else v for v in chart.values[:max_bars]]
    height = max(2.0, 0.28 * len(labels) + 1.0)
    with plt.rc_context({"font.family": family} if family else {}):
        figure, axis = plt.subplots(figsize=(width_in, height), dpi=150)
        positions = list(range(len(labels)))[::-1]
        axis.barh(positions, values, color="#1f6fb2", height=0.6)
        axis.set_yticks(positions, labels, fontsize=8)
        axis.set_title(chart.title, fontsize=10)
        if chart.target is not None:
            target = chart.target * 100 if chart.percent else chart.target
            axis.axvline(target, color="#c0392b", linestyle="--", linewidth=1, label=f"目标 {target:g}")
            axis.legend(fontsize=8, loc="lower right")
        if chart.percent:
            axis.set_xlabel("%", fontsize=8)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()
