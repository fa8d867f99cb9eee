"""QR code PNGs for invite links (MEM-6, CERT-1, WORK-2), captioned in Chinese."""
from __future__ import annotations

from io import BytesIO

import qrcode
from PIL import Image, ImageDraw

from bot.render.fonts import cjk_font, drawable, wrap_text

__all__ = ["invite_qr_png"]

WIDTH = 600
BORDER = 4  # quiet zone in modules, as the QR standard asks
MARGIN = 32
TITLE_SIZE = 34
SUBTITLE_SIZE = 24
LINE_GAP = 8
INK = (20, 20, 20)
GREY = (100, 100, 100)


def _matrix(url: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER, box_size=1)
    code.add_data(url)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def _code_image(url: str) -> Image.Image:
    matrix = _matrix(url)
    modules = len(matrix)
    box = max(2, WIDTH // modules)
    small = Image.new("1", (modules, modules), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    # Whole pixels per module keep the edges sharp for scanners.
    return small.resize((modules * box, modules * box), Image.Resampling.NEAREST).convert("RGB")


def _line_height(size: int) -> int:
    ascent, descent = cjk_font(size).getmetrics()
    return ascent + descent + LINE_GAP


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], size: int, top: int, width: int,
                fill: tuple[int, int, int]) -> int:
    font = cjk_font(size)
    for line in lines:
        draw.text(((width - font.getlength(line)) / 2, top), line, font=font, fill=fill)
        top += _line_height(size)
    return top


def invite_qr_png(url: str, title: str, subtitle: str | None = None) -> bytes:
    """A ~600 px wide PNG: the QR code of `url`, then `title` (at most two centred lines) and
    an optional smaller `subtitle` (e.g. branch and expiry) under it."""
    code = _code_image(url)
    width = max(WIDTH, code.width)
    title_lines = wrap_text(drawable(title), cjk_font(TITLE_SIZE), width - 2 * MARGIN, max_lines=2)
    sub_lines = wrap_text(drawable(subtitle or ""), cjk_font(SUBTITLE_SIZE), width - 2 * MARGIN, max_lines=2)
    caption = len(title_lines) * _line_height(TITLE_SIZE) + len(sub_lines) * _line_height(SUBTITLE_SIZE)
    image = Image.new("RGB", (width, code.height + (caption + MARGIN if caption else 0)), (255, 255, 255))
    image.paste(code, ((width - code.width) // 2, 0))
    draw = ImageDraw.Draw(image)
    # The code's own quiet zone is the space above the caption; nothing is drawn into it.
    top = _draw_lines(draw, title_lines, TITLE_SIZE, code.height, width, INK)
    _draw_lines(draw, sub_lines, SUBTITLE_SIZE, top, width, GREY)
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
