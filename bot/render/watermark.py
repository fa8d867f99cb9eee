"""Viewer watermark on report images (SEC-2): faint diagonal text tiled over the picture."""
from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageDraw

from bot.render.fonts import cjk_font, drawable

__all__ = ["watermark_png"]

ANGLE = 30
ALPHA = 64  # of 255: readable when looked for, not in the way of the chart
MAX_PIXELS = 40_000_000  # our own charts are far smaller; refuse anything absurd


def _stamp(text: str, size: int) -> Image.Image:
    """The text once, rotated, on a transparent tile with room around it."""
    font = cjk_font(size)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left, bottom - top
    tile = Image.new("LA", (int(w) + size * 4, int(h) + size * 3), (0, 0))
    ImageDraw.Draw(tile).text((size * 2 - left, size * 3 // 2 - top), text, font=font, fill=(110, ALPHA))
    return tile.rotate(ANGLE, expand=True, resample=Image.Resampling.BICUBIC)


def watermark_png(png: bytes, text: str) -> bytes:
    """`png` with `text` (the viewer's name and phone tail) tiled diagonally across it."""
    base: Image.Image = Image.open(BytesIO(png))
    if base.width * base.height > MAX_PIXELS:
        raise ValueError("image too large to watermark")
    has_alpha = base.mode in ("RGBA", "LA") or "transparency" in base.info
    base = base.convert("RGBA")
    text = " ".join(drawable(text).split())
    if text:
        size = max(14, min(base.width, base.height) // 28)
        stamp = _stamp(text, size).convert("RGBA")
        layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
        step_x, step_y = stamp.width, max(1, stamp.height * 2 // 3)
        for row, y in enumerate(range(-stamp.height // 2, base.height, step_y)):
            shift = (step_x // 2) * (row % 2)
            for x in range(-stamp.width + shift, base.width, step_x):
                layer.paste(stamp, (x, y), stamp)  # negative offsets clip, unlike alpha_composite
        base = Image.alpha_composite(base, layer)
    out = BytesIO()
    (base if has_alpha else base.convert("RGB")).save(out, format="PNG")
    return out.getvalue()
