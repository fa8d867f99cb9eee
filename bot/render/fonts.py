"""The CJK font every image renderer uses (QR captions, charts, watermarks).

The font ships with the package (`bot/assets/XuexiSansSC-Regular.otf`, a GB 2312 subset of
Noto Sans CJK SC under the SIL OFL, see `bot/assets/OFL.txt` and `make_cjk_subset.py`), so
rendering Chinese needs no system fonts and no network.

Being a subset, the font lacks emoji and many symbols; a character it lacks would be drawn as a
box (☒). Every text drawn goes through `drawable` first, which leaves such characters out.
"""
from __future__ import annotations

import functools
from pathlib import Path

from matplotlib.ft2font import FT2Font
from PIL import ImageFont

__all__ = ["FONT_PATH", "cjk_font", "drawable", "wrap_text"]

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "XuexiSansSC-Regular.otf"


@functools.lru_cache(maxsize=64)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at `size` pixels. Basic layout: CJK needs no shaping, and the result is
    the same with or without libraqm on the machine."""
    return ImageFont.truetype(str(FONT_PATH), size, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _codepoints() -> frozenset[int]:
    """The characters the bundled font has a glyph for (its character map)."""
    return frozenset(FT2Font(str(FONT_PATH)).get_charmap())


def drawable(text: str) -> str:
    """`text` without the characters the font cannot draw (emoji, control and format characters,
    symbols outside the subset): left out rather than drawn as boxes. Spaces and line breaks stay."""
    have = _codepoints()
    return "".join(ch for ch in text if ord(ch) in have or ch in " \n")


def _tokens(text: str) -> list[str]:
    """Break points: between any two CJK characters, at spaces inside Latin text."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace():
            if word:
                tokens.append(word)
                word = ""
            tokens.append(" ")
        elif ch.isascii():
            word += ch
        else:
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens


def _shorten(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    ellipsis = "…"
    while line and font.getlength(line + ellipsis) > max_width:
        line = line[:-1]
    return line.rstrip() + ellipsis


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int = 2) -> list[str]:
    """Lines of at most `max_width` pixels; past `max_lines` the last line ends in '…'."""
    lines: list[str] = []
    line = ""
    for token in _tokens(" ".join(text.split())):
        if font.getlength(line + token) <= max_width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        if token == " ":
            continue
        for ch in token:  # a token wider than a line is cut anywhere
            if line and font.getlength(line + ch) > max_width:
                lines.append(line)
                line = ""
            line += ch
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_shorten(lines[max_lines - 1], font, max_width)]
    return lines
