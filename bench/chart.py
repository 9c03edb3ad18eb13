"""A small SVG writer and the benchmark's bar chart: each library's speed relative to asyncpg."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

LIB_COLORS = {
    "ferrule": "#d9480f",
    "asyncpg": "#1c7ed6",
    "psqlpy": "#2f9e44",
    "psycopg": "#7048e8",
}
OTHER_COLOR = "#868e96"
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


class SvgDocument:
    """Collects shapes and renders one standalone SVG file."""

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self._parts: list[str] = []

    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> None:
        self._parts.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 0):.1f}' height='{h:.1f}' "
            f"fill={quoteattr(fill)}/>"
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str, dash: str = "") -> None:
        dashed = f" stroke-dasharray='{dash}'" if dash else ""
        self._parts.append(
            f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
            f"stroke={quoteattr(color)} stroke-width='1'{dashed}/>"
        )

    def text(
        self,
        x: float,
        y: float,
        content: str,
        size: int = 11,
        anchor: str = "start",
        color: str = "#212529",
        bold: bool = False,
        halo: bool = False,
    ) -> None:
        weight = " font-weight='bold'" if bold else ""
        # A white outline under the glyphs keeps a label readable where it crosses a line.
        outline = " stroke='white' stroke-width='3' paint-order='stroke'" if halo else ""
        self._parts.append(
            f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
            f"fill={quoteattr(color)}{weight}{outline}>{escape(content)}</text>"
        )

    def render(self) -> str:
        head = (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width:.0f}' "
            f"height='{self.height:.0f}' viewBox='0 0 {self.width:.0f} {self.height:.0f}' {FONT}>"
        )
        background = f"<rect width='{self.width:.0f}' height='{self.height:.0f}' fill='white'/>"
        return "\n".join([head, background, *self._parts, "</svg>"]) + "\n"


@dataclass
class Bar:
    lib: str
    ratio: float | None
    label: str


@dataclass
class Group:
    title: str
    bars: list[Bar]


@dataclass
class Panel:
    title: str
    groups: list[Group]


PANEL_WIDTH = 420
LABEL_WIDTH = 70
VALUE_WIDTH = 60
BAR_HEIGHT = 13
BAR_GAP = 3
GROUP_TITLE = 18
GROUP_GAP = 12
TOP = 76


def ratio_chart(title: str, subtitles: Sequence[str], panels: Sequence[Panel]) -> str:
    """Horizontal bars, one group per workload, one panel per event loop; asyncpg = 1."""
    ratios = [b.ratio for p in panels for g in p.groups for b in g.bars if b.ratio is not None]
    scale_max = max([1.5, *ratios]) * 1.05
    bar_area = PANEL_WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
    heights = [
        sum(GROUP_TITLE + len(g.bars) * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP for g in p.groups)
        for p in panels
    ]
    width = max(1, len(panels)) * PANEL_WIDTH + 20
    height = TOP + max(heights, default=0) + 20
    svg = SvgDocument(width, height)
    svg.text(14, 22, title, size=15, bold=True)
    for i, subtitle in enumerate(subtitles[:2]):
        svg.text(14, 40 + 14 * i, subtitle, size=11, color="#495057")
    for index, panel in enumerate(panels):
        x0 = 10 + index * PANEL_WIDTH
        bar_x = x0 + LABEL_WIDTH
        one_x = bar_x + bar_area / scale_max
        svg.text(x0 + 4, TOP, panel.title, size=13, bold=True)
        y = TOP + 10
        # The reference line goes first so that bars and labels are drawn over it.
        bottom = y + heights[index] - GROUP_GAP
        svg.line(one_x, y, one_x, bottom, "#495057", dash="3,3")
        svg.text(one_x, bottom + 12, "asyncpg = 1", size=9, anchor="middle")
        for group in panel.groups:
            svg.text(x0 + 4, y + 12, group.title, size=11, color="#343a40")
            y += GROUP_TITLE
            for bar in group.bars:
                color = LIB_COLORS.get(bar.lib, OTHER_COLOR)
                svg.text(bar_x - 6, y + BAR_HEIGHT - 3, bar.lib, size=10, anchor="end")
                if bar.ratio is None:
                    svg.text(bar_x + 4, y + BAR_HEIGHT - 3, bar.label, size=10, color="#868e96")
                else:
                    length = bar_area * bar.ratio / scale_max
                    svg.rect(bar_x, y, length, BAR_HEIGHT, color)
                    svg.text(bar_x + length + 4, y + BAR_HEIGHT - 3, bar.label, size=10, halo=True)
                y += BAR_HEIGHT + BAR_GAP
            y += GROUP_GAP
    return svg.render()
