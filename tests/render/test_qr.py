"""Invite QR codes, the CJK font and the viewer watermark (MEM-6, REP-3, SEC-2)."""
from io import BytesIO

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw

from bot.render.fonts import FONT_PATH, cjk_font, wrap_text
from bot.render.qr import invite_qr_png
from bot.render.watermark import watermark_png

URL = "https://t.me/xuexi_test_bot?start=j_AbCdEfGhIjKlMnOpQrStUvWx12"
TITLE = "中共某某市某某区某某街道第一社区党委学习组织"


def _image(png: bytes) -> Image.Image:
    image = Image.open(BytesIO(png))
    image.load()
    return image


def _mask_bytes(text: str, size: int = 48) -> bytes:
    return bytes(cjk_font(size).getmask(text))


def test_cjk_font_ships_with_licence():
    assert FONT_PATH.is_file()
    assert FONT_PATH.stat().st_size < 6 * 1024 * 1024
    licence = (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert cjk_font(20) is cjk_font(20)  # cached per size


@pytest.mark.parametrize("text", ["学", "习", "强", "国", "党", "支", "部", "喆", "堃", "，", "A"])
def test_rep_3_font_has_real_glyphs_not_tofu(text):
    tofu = _mask_bytes("\ue000")  # a private-use character: no font has it, .notdef is drawn
    assert _mask_bytes(text) != tofu
    assert any(_mask_bytes(text))


def test_rep_3_different_hanzi_render_differently():
    assert _mask_bytes("学") != _mask_bytes("口")
    assert _mask_bytes("支部") != _mask_bytes("党委")


def test_wrap_text_two_lines_at_most():
    font = cjk_font(34)
    lines = wrap_text(TITLE * 3, font, 500, max_lines=2)
    assert len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(font.getlength(line) <= 500 for line in lines)
    assert wrap_text("短标题", font, 500) == ["短标题"]
    lines = wrap_text("Study group of the first branch", font, 300, max_lines=3)
    assert " ".join(lines) == "Study group of the first branch"  # Latin breaks between words
    assert wrap_text("", font, 500) == []


@pytest.mark.parametrize("subtitle", [None, "第一党支部 · 有效期至 2025-12-31"])
def test_mem_6_invite_qr_decodes_to_url(subtitle):
    png = invite_qr_png(URL, TITLE, subtitle)
    image = _image(png)
    assert image.format == "PNG"
    assert 560 <= image.width <= 640
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [URL]


def test_mem_6_invite_qr_caption_is_drawn():
    with_caption = _image(invite_qr_png(URL, TITLE, "第一党支部"))
    code_only = _image(invite_qr_png(URL, ""))
    assert with_caption.height > code_only.height
    caption = with_caption.crop((0, code_only.height, with_caption.width, with_caption.height)).convert("L")
    dark = sum(caption.histogram()[:128])
    assert dark > 500  # text was drawn, not an empty band
    # Two titles that differ in one character give different captions (no tofu boxes).
    a = _image(invite_qr_png(URL, "学"))
    b = _image(invite_qr_png(URL, "口"))
    assert ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is not None


def test_mem_6_long_title_wraps_onto_two_lines():
    one = _image(invite_qr_png(URL, "学习组织"))
    two = _image(invite_qr_png(URL, TITLE))
    many = _image(invite_qr_png(URL, TITLE * 4))
    assert two.height > one.height
    assert many.height == two.height  # still two lines, ending in "…"


def _chart() -> bytes:
    image = Image.new("RGB", (800, 500), "white")
    draw = ImageDraw.Draw(image)
    draw.line((40, 450, 760, 60), fill=(200, 30, 30), width=5)
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_sec_2_watermark_tiles_text_across_the_image():
    original = _image(_chart())
    marked = _image(watermark_png(_chart(), "张三 1234"))
    assert marked.size == original.size
    assert marked.mode == "RGB"
    diff = ImageChops.difference(original, marked).convert("L")
    assert diff.getbbox() is not None
    # Tiled: every quarter of the picture carries some of the mark.
    w, h = marked.size
    for box in ((0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h), (w // 2, h // 2, w, h)):
        assert diff.crop(box).getbbox() is not None
    # Faint: the chart stays readable (no pixel darkened to black by the mark).
    assert diff.getextrema()[1] < 120


def test_sec_2_watermark_keeps_qr_readable_and_alpha():
    marked = _image(watermark_png(invite_qr_png(URL, TITLE), "李四 5678"))
    assert [r.text for r in zxingcpp.read_barcodes(marked)] == [URL]
    rgba = Image.new("RGBA", (300, 200), (255, 255, 255, 0))
    out = BytesIO()
    rgba.save(out, format="PNG")
    assert _image(watermark_png(out.getvalue(), "王五 0000")).mode == "RGBA"
    assert watermark_png(_chart(), "  ") != b""
