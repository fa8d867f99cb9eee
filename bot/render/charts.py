"""Small charts as PNG bytes: bars (stacked or grouped) and lines, with Chinese labels in the
bundled CJK font (LEARN-8 learning report; REP-3 organisation trends).

Input is plain data — category labels along the x axis, one or more named series of numbers,
a title — and the output is PNG bytes; the viewer's watermark (SEC-2) is added afterwards with
`bot.render.watermark.watermark_png`. Drawn at twice the size and scaled down, so lines and bar
edges come out smooth without an anti-aliasing backend.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageDraw

from bot.render.fonts import cjk_font, wrap_text

__all__ = ["Series", "bar_chart_png", "line_chart_png", "PALETTE"]

SCALE = 2
PALETTE: list[tuple[int, int, int]] = [
    (214, 48, 49), (9, 132, 227), (0, 168, 132), (243, 156, 18), (108, 92, 231), (225, 112, 85),
    (99, 110, 114), (232, 67, 147), (0, 206, 201), (45, 52, 54),
]
INK, GRID, AXIS, MUTED = (45, 52, 54), (226, 230, 234), (150, 156, 160), (110, 116, 120)
MAX_POINTS = 400
MAX_SERIES = len(PALETTE)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: tuple[int, int, int] | None = None


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    if not labels or len(labels) > MAX_POINTS:
        raise ValueError(f"a chart needs 1..{MAX_POINTS} labels")
    if not series or len(series) > MAX_SERIES:
        raise ValueError(f"a chart needs 1..{MAX_SERIES} series")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels")
        if any(not math.isfinite(v) for v in s.values):
            raise ValueError(f"series {s.name!r} has a value that is not a finite number")


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (0 always included); whole steps for whole numbers."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        high = float(count) if integer else 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    if integer:
        step = max(1, round(step))
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def format_number(value: float, unit: str = "") -> str:
    if float(value).is_integer():
        text = str(int(value))
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text + unit


class _Canvas:
    """The frame every chart shares: title, legend, y axis with grid, x labels; then the plot area."""

    def __init__(self, labels: Sequence[str], series: Sequence[Series], title: str, low: float, high: float,
                 unit: str, width: int, height: int) -> None:
        s = SCALE
        self.image = Image.new("RGB", (width * s, height * s), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.labels, self.series, self.unit = list(labels), list(series), unit
        self.colors = [c.color or PALETTE[i % len(PALETTE)] for i, c in enumerate(series)]
        self.font = cjk_font(13 * s)
        whole = all(float(v).is_integer() for s in series for v in s.values)
        self.ticks = nice_ticks(low, high, integer=whole)
        top = self._title(title, width * s) + 6 * s
        top = self._legend(top, width * s) + 8 * s
        tick_width = max(self.font.getlength(format_number(t, unit)) for t in self.ticks)
        self.left = int(tick_width) + 18 * s
        self.right = width * s - 18 * s
        self.top = top
        self.bottom = height * s - 36 * s
        self._axes()

    def _title(self, title: str, width: int) -> int:
        font = cjk_font(20 * SCALE)
        y = 14 * SCALE
        for line in wrap_text(title, font, width - 40 * SCALE, max_lines=2):
            w = font.getlength(line)
            self.draw.text(((width - w) / 2, y), line, font=font, fill=INK)
            y += 28 * SCALE
        return y

    def _legend(self, top: int, width: int) -> int:
        if len(self.series) == 1 and not self.series[0].name:
            return top
        x: float = 24 * SCALE
        y, box = top, 12 * SCALE
        for s, color in zip(self.series, self.colors):
            w = box + 6 * SCALE + self.font.getlength(s.name) + 18 * SCALE
            if x + w > width - 24 * SCALE and x > 24 * SCALE:
                x, y = 24 * SCALE, y + 22 * SCALE
            self.draw.rectangle((x, y + 3 * SCALE, x + box, y + 3 * SCALE + box), fill=color)
            self.draw.text((x + box + 6 * SCALE, y), s.name, font=self.font, fill=INK)
            x += w
        return y + 22 * SCALE

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return self.bottom - (value - low) / (high - low) * (self.bottom - self.top)

    def slot(self, index: int) -> tuple[float, float]:
        """The x centre and width of the index-th category."""
        width = (self.right - self.left) / len(self.labels)
        return self.left + width * (index + 0.5), width

    def _axes(self) -> None:
        for t in self.ticks:
            y = self.y(t)
            self.draw.line((self.left, y, self.right, y), fill=AXIS if t == 0 else GRID, width=SCALE)
            text = format_number(t, self.unit)
            w = self.font.getlength(text)
            self.draw.text((self.left - 8 * SCALE - w, y - 9 * SCALE), text, font=self.font, fill=MUTED)
        widest = max(self.font.getlength(label) for label in self.labels) + 10 * SCALE
        every = max(1, math.ceil(len(self.labels) * widest / (self.right - self.left)))
        for i, label in enumerate(self.labels):
            if i % every and i != len(self.labels) - 1:
                continue
            if i != len(self.labels) - 1 and len(self.labels) - 1 - i < every:
                continue  # leave room for the last label, which is always shown
            x, _ = self.slot(i)
            w = self.font.getlength(label)
            self.draw.text((x - w / 2, self.bottom + 8 * SCALE), label, font=self.font, fill=MUTED)

    def png(self) -> bytes:
        out = BytesIO()
        small = self.image.resize((self.image.width // SCALE, self.image.height // SCALE), Image.Resampling.LANCZOS)
        small.save(out, format="PNG", optimize=True)
        return out.getvalue()


def bar_chart_png(labels: Sequence[str], series: Sequence[Series], title: str, *, stacked: bool = True,
                  show_totals: bool = True, unit: str = "", width: int = 800, height: int = 480) -> bytes:
    """Bars per label: the series stacked (negatives below zero) or side by side."""
    _check(labels, series)
    if stacked:
        ups = [sum(max(s.values[i], 0) for s in series) for i in range(len(labels))]
        downs = [sum(min(s.values[i], 0) for s in series) for i in range(len(labels))]
    else:
        ups = [max([s.values[i] for s in series] + [0]) for i in range(len(labels))]
        downs = [min([s.values[i] for s in series] + [0]) for i in range(len(labels))]
    headroom = 1.08 if stacked and show_totals else 1.0  # the total printed above the highest bar
    canvas = _Canvas(labels, series, title, min(downs), max(ups) * headroom, unit, width, height)
    draw = canvas.draw
    for i in range(len(labels)):
        x, slot = canvas.slot(i)
        if stacked:
            bar = slot * 0.6
            up = down = 0.0
            for s, color in zip(series, canvas.colors):
                v = s.values[i]
                base = up if v >= 0 else down
                if v:
                    y0, y1 = sorted((canvas.y(base), canvas.y(base + v)))
                    draw.rectangle((x - bar / 2, y0, x + bar / 2, y1), fill=color)
                if v >= 0:
                    up += v
                else:
                    down += v
            total = up + down
            if show_totals and len(labels) <= 31 and (up or down):
                text = format_number(total, unit)
                w = canvas.font.getlength(text)
                draw.text((x - w / 2, canvas.y(up) - 20 * SCALE), text, font=canvas.font, fill=INK)
        else:
            bar = slot * 0.8 / len(series)
            for k, (s, color) in enumerate(zip(series, canvas.colors)):
                v = s.values[i]
                if v:
                    left = x - slot * 0.4 + k * bar
                    y0, y1 = sorted((canvas.y(0), canvas.y(v)))
                    draw.rectangle((left, y0, left + bar - SCALE, y1), fill=color)
    return canvas.png()


def line_chart_png(labels: Sequence[str], series: Sequence[Series], title: str, *, unit: str = "",
                   width: int = 800, height: int = 480) -> bytes:
    """One line per series over the labels (trends over 7, 30 or 90 days)."""
    _check(labels, series)
    values = [v for s in series for v in s.values]
    canvas = _Canvas(labels, series, title, min(values), max(values), unit, width, height)
    dots = len(labels) <= 31
    for s, color in zip(series, canvas.colors):
        points = [(canvas.slot(i)[0], canvas.y(v)) for i, v in enumerate(s.values)]
        if len(points) > 1:
            canvas.draw.line(points, fill=color, width=3 * SCALE, joint="curve")
        if dots or len(points) == 1:
            r = 4 * SCALE
            for px, py in points:
                canvas.draw.ellipse((px - r, py - r, px + r, py + r), fill=color)
    return canvas.png()
