"""Horizontal bar charts drawn as SVG on the server: no script, nothing to load, readable in print.

A chart is only a picture of a table that the page always shows beside it (the text
alternative screen readers and exports rely on), so it carries no data of its own:
``bar_chart`` turns (label, value) rows into the geometry the ``staff/_charts.html``
macro draws.
"""

from __future__ import annotations

from typing import NamedTuple

from pass_numerique.rendering.french_format import number

LABEL_WIDTH = 230
BAR_AREA = 380
VALUE_WIDTH = 90
ROW_HEIGHT = 28
BAR_HEIGHT = 18


class Bar(NamedTuple):
    label: str
    value_text: str
    y: int
    width: float


class BarChart(NamedTuple):
    id: str
    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, int | float | None]]) -> BarChart:
    """Bars scaled to the largest value; a missing value (None) draws no bar and reads « – »."""
    largest = max((value for _, value in rows if value), default=0)
    bars = []
    for index, (label, value) in enumerate(rows):
        width = BAR_AREA * value / largest if value and largest else 0
        value_text = number(value)
        bars.append(
            Bar(label=_shorten(label), value_text=value_text, y=index * ROW_HEIGHT, width=round(width, 1))
        )
    return BarChart(
        id=chart_id,
        title=title,
        bars=bars,
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=max(len(rows), 1) * ROW_HEIGHT,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
    )


def _shorten(label: str, limit: int = 34) -> str:
    # The full label is in the table beside the chart.
    return label if len(label) <= limit else label[: limit - 1] + "…"
