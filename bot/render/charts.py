"""Charts as PNG bytes on matplotlib (the Agg canvas directly, never pyplot): the learning report's
bars (LEARN-8) and the organisation trends (REP-3), labelled in the bundled CJK font.

Readable on a phone: Telegram shows a photo about 320-400 px wide there. Every figure is laid out
LAYOUT_WIDTH_IN inches wide whatever its pixel size, so a font of N points shows as N px at 360 px
wide (`phone_px`); the smallest text drawn is SMALL_PT. The viewer's watermark (SEC-2) is added by
`bot.render.watermark.watermark_png`, which `trend_chart_png` applies when given the viewer's text.

matplotlib's global state is never touched (no rcParams, no pyplot): fonts are passed to each text,
so charts can be drawn in worker threads side by side. For the same reason text is made literal where
it enters a figure, not by an rcParam: every title, series name and label goes through `_literal`.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO

from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.render.fonts import FONT_PATH, drawable
from bot.render.watermark import watermark_png

__all__ = ["Series", "Panel", "bar_chart_png", "line_chart_png", "trend_chart_png", "format_number", "phone_px",
           "PALETTE", "SMALL_PT"]

PALETTE: list[tuple[int, int, int]] = [
    (214, 48, 49), (9, 132, 227), (0, 168, 132), (243, 156, 18), (108, 92, 231), (225, 112, 85),
    (99, 110, 114), (232, 67, 147), (0, 206, 201), (45, 52, 54),
]
INK, GRID, MUTED = "#2d3436", "#e2e6ea", "#5f676c"
MAX_POINTS = 400
MAX_SERIES = len(PALETTE)
LAYOUT_WIDTH_IN = 5.0   # every figure is this wide in inches; its dpi makes the pixels
PHONE_WIDTH_PX = 360    # how wide Telegram shows a photo on a typical phone
SMALL_PT, BODY_PT, TITLE_PT = 9.5, 10.5, 12.5


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Panel:
    """One plot of a trend chart: its heading, its lines, and the unit of its y axis ("%" or "")."""

    title: str
    series: Sequence[Series]
    unit: str = ""


def phone_px(points: float, image_width_px: int = 0, phone_width_px: int = PHONE_WIDTH_PX) -> float:
    """How tall text of `points` shows on a phone that displays the image `phone_width_px` wide."""
    del image_width_px  # the layout is a fixed width in inches, so the pixel size drops out
    return points * phone_width_px / (72 * LAYOUT_WIDTH_IN)


@functools.cache
def _family() -> str:
    """Registers the bundled font with matplotlib's font manager once; returns its family name."""
    font_manager.fontManager.addfont(str(FONT_PATH))
    return str(font_manager.FontProperties(fname=str(FONT_PATH)).get_name())


def _font(size: float) -> font_manager.FontProperties:
    return font_manager.FontProperties(family=[_family(), "DejaVu Sans"], size=size)


def _literal(text: str) -> str:
    """`text` to be drawn as typed. matplotlib reads a text with an even number of unescaped `$` as
    mathtext, where `\\`, `_` and `^` are commands (a name like `学习组$\\alpha\\zzz$` raises, `a$x$`
    shows an italic x); with every `$` escaped nothing is math and `\\$` is drawn as `$`. Characters the
    font lacks (emoji) are left out rather than drawn as boxes."""
    return drawable(text).replace("$", "\\$")


def _rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    return color[0] / 255, color[1] / 255, color[2] / 255


def _check(n: int, series: Sequence[Series]) -> None:
    if not n or n > MAX_POINTS:
        raise ValueError(f"a chart needs 1..{MAX_POINTS} points")
    if not series or len(series) > MAX_SERIES:
        raise ValueError(f"a chart needs 1..{MAX_SERIES} series")
    for s in series:
        if len(s.values) != n:
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {n} points")
        if any(not math.isfinite(v) for v in s.values):
            raise ValueError(f"series {s.name!r} has a value that is not a finite number")


def format_number(value: float, unit: str = "") -> str:
    if float(value).is_integer():
        text = str(int(value))
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text + unit


def _figure(width: int, height: int, *, top_in: float = 0.62, bottom_in: float = 0.35) -> Figure:
    """Fixed margins in inches (room for the title and legend above, the y ticks left, the x ticks
    below): a constraint solver would cost more time than the drawing itself."""
    dpi = width / LAYOUT_WIDTH_IN
    fig = Figure(figsize=(LAYOUT_WIDTH_IN, height / dpi), dpi=dpi, facecolor="white")
    h = height / dpi
    fig.subplots_adjust(left=0.6 / LAYOUT_WIDTH_IN, right=1 - 0.15 / LAYOUT_WIDTH_IN, top=1 - top_in / h,
                        bottom=bottom_in / h, hspace=0.55)
    return fig


def _style(ax: Axes, unit: str, whole: bool) -> None:
    """Light grid behind the data, no box, y ticks as plain numbers with the unit."""
    ax.set_axisbelow(True)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#9aa0a4")
    ax.tick_params(labelsize=SMALL_PT, labelcolor=MUTED, colors="#9aa0a4", labelfontfamily=_family())
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=whole, min_n_ticks=3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_number(round(v, 6), unit)))


def _legend(ax: Axes, series: Sequence[Series]) -> None:
    if len(series) == 1 and not series[0].name:
        return
    ax.legend(prop=_font(SMALL_PT), frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0),
              ncols=min(len(series), 3), borderaxespad=0.2, handlelength=1.4, columnspacing=1.0)


def _png(fig: Figure) -> bytes:
    out = BytesIO()
    FigureCanvasAgg(fig).print_png(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _colors(series: Sequence[Series]) -> list[tuple[float, float, float]]:
    return [_rgb(s.color or PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]


def _whole(series: Sequence[Series]) -> bool:
    return all(float(v).is_integer() for s in series for v in s.values)


def bar_chart_png(labels: Sequence[str], series: Sequence[Series], title: str, *, stacked: bool = True,
                  show_totals: bool = True, unit: str = "", width: int = 800, height: int = 480) -> bytes:
    """Bars per label: the series stacked (negatives below zero) or side by side."""
    _check(len(labels), series)
    labels = [_literal(label) for label in labels]
    fig = _figure(width, height)
    ax = fig.add_subplot()
    fig.suptitle(_literal(title), fontproperties=_font(TITLE_PT), color=INK, y=1 - 0.08 / (fig.get_figheight()))
    xs = list(range(len(labels)))
    colors = _colors(series)
    if stacked:
        ups, downs = [0.0] * len(labels), [0.0] * len(labels)
        for s, color in zip(series, colors):
            bottoms = [ups[i] if v >= 0 else downs[i] for i, v in enumerate(s.values)]
            ax.bar(xs, list(s.values), 0.6, bottom=bottoms, color=color, label=_literal(s.name), linewidth=0)
            for i, v in enumerate(s.values):
                if v >= 0:
                    ups[i] += v
                else:
                    downs[i] += v
        if show_totals and len(labels) <= 31:
            for i in xs:
                if ups[i] or downs[i]:
                    ax.annotate(format_number(ups[i] + downs[i], unit), (i, ups[i]), xytext=(0, 2),
                                textcoords="offset points", ha="center", va="bottom",
                                fontproperties=_font(SMALL_PT), color=INK)
        lo, hi = min([*downs, 0.0]), max([*ups, 0.0])
        span = (hi - lo) or 1.0
        ax.set_ylim(lo - (0.05 * span if lo < 0 else 0), hi + 0.15 * span)
    else:
        bar = 0.8 / len(series)
        for k, (s, color) in enumerate(zip(series, colors)):
            ax.bar([x - 0.4 + bar * (k + 0.5) for x in xs], list(s.values), bar * 0.92, color=color,
                   label=_literal(s.name), linewidth=0)
    _style(ax, unit, _whole(series))
    ax.set_xticks(xs, list(labels))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels[int(v)] if 0 <= int(v) < len(labels) else ""))
    ax.axhline(0, color="#9aa0a4", linewidth=0.8)
    _legend(ax, series)
    return _png(fig)


def line_chart_png(labels: Sequence[str], series: Sequence[Series], title: str, *, unit: str = "",
                   width: int = 800, height: int = 480) -> bytes:
    """One line per series over category labels."""
    _check(len(labels), series)
    labels = [_literal(label) for label in labels]
    fig = _figure(width, height)
    ax = fig.add_subplot()
    fig.suptitle(_literal(title), fontproperties=_font(TITLE_PT), color=INK, y=1 - 0.08 / (fig.get_figheight()))
    xs = list(range(len(labels)))
    for s, color in zip(series, _colors(series)):
        ax.plot(xs, list(s.values), color=color, linewidth=2, label=_literal(s.name),
                marker="o" if len(labels) <= 31 else None, markersize=3.5)
    _style(ax, unit, _whole(series))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels[int(v)] if 0 <= int(v) < len(labels) else ""))
    _legend(ax, series)
    return _png(fig)


def trend_chart_png(days: Sequence[date], panels: Sequence[Panel], title: str, *, watermark: str = "",
                    width: int = 900, panel_height: int = 330) -> bytes:
    """REP-3: one plot per panel stacked over a shared date axis (7, 30 or 90 days), each with its own
    y unit and legend; then the viewer's watermark when `watermark` is given."""
    if not panels:
        raise ValueError("a trend chart needs at least one panel")
    for panel in panels:
        _check(len(days), panel.series)
    height = int(panel_height * len(panels) + width * 0.1)
    fig = _figure(width, height, top_in=0.7)
    fig.suptitle(_literal(title), fontproperties=_font(TITLE_PT), color=INK, y=1 - 0.08 / (fig.get_figheight()))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    xs = list(days)
    for ax, panel in zip(axes, panels):
        for s, color in zip(panel.series, _colors(panel.series)):
            ax.plot(xs, list(s.values), color=color, linewidth=1.8, label=_literal(s.name),
                    marker="o" if len(xs) <= 31 else None, markersize=3)
        values = [v for s in panel.series for v in s.values]
        if min(values) >= 0:
            ax.set_ylim(bottom=0, top=max(max(values) * 1.1, 1.0 if _whole(panel.series) else 0.1))
        if panel.unit == "%":
            ax.set_ylim(0, max(100.0, max(values) * 1.05))
        _style(ax, panel.unit, _whole(panel.series) and panel.unit != "%")
        if len(panel.series) > 1:
            _legend(ax, panel.series)
        else:  # one line: its name is the heading, no legend needed
            ax.set_title(_literal(panel.series[0].name or panel.title), loc="left", fontproperties=_font(BODY_PT),
                         color=INK, pad=4)
    bottom = axes[-1]
    if len(xs) > 1:
        bottom.set_xlim(xs[0], xs[-1])
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
    png = _png(fig)
    return watermark_png(png, watermark) if watermark else png
