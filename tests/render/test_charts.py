"""Charts as PNG bytes (LEARN-8 report, REP-3 trends): valid images of the asked size, Chinese text drawn
with the bundled font (not tofu boxes), bad input refused."""
from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from PIL import Image, ImageChops

from bot.render.charts import (
    SMALL_PT,
    Panel,
    Series,
    bar_chart_png,
    format_number,
    line_chart_png,
    phone_px,
    trend_chart_png,
)

DAYS = ["11-17", "11-18", "11-19", "11-20", "11-21", "11-22", "11-23"]


def opened(png: bytes) -> Image.Image:
    image = Image.open(BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image


def test_learn_8_stacked_bars_are_a_png_of_the_asked_size():
    png = bar_chart_png(DAYS, [Series("每日登录", [1, 1, 0, 1, 1, 1, 1]), Series("每日答题", [5, 3, 0, 5, 2, 5, 4]),
                               Series("扣分", [0, 0, 0, -2, 0, 0, 0])], "近 7 天积分 · 张伟")
    image = opened(png)
    assert image.size == (800, 480)
    assert 5_000 < len(png) < 200_000
    colours = {c for _, c in image.convert("RGB").getcolors(1_000_000)}
    assert (214, 48, 49) in colours and (9, 132, 227) in colours  # the first two series' bars are drawn


def test_learn_8_grouped_bars_and_custom_size():
    png = bar_chart_png(["甲", "乙"], [Series("a", [3, 4]), Series("b", [1, 0])], "分组", stacked=False,
                        width=400, height=300)
    assert opened(png).size == (400, 300)


def test_rep_3_line_chart_over_90_days():
    labels = [f"{d % 30 + 1:02d}日" for d in range(90)]
    png = line_chart_png(labels, [Series("参与率", [float(i % 50) + 0.5 for i in range(90)])],
                         "某某县委宣传部学习组织 近 90 天参与率", unit="%")
    assert opened(png).size == (800, 480)


def test_chinese_title_is_drawn_as_glyphs_not_boxes():
    """Two different Chinese titles give different pixels: the font has the glyphs (tofu boxes would match)."""
    one = opened(bar_chart_png(["一"], [Series("", [1])], "学习强国")).convert("L")
    two = opened(bar_chart_png(["一"], [Series("", [1])], "组织报表")).convert("L")
    title = (0, 0, 800, 50)
    assert ImageChops.difference(one.crop(title), two.crop(title)).getbbox() is not None


def test_all_zero_and_single_point_charts_render():
    assert opened(bar_chart_png(DAYS, [Series("x", [0] * 7)], "空")).size == (800, 480)
    assert opened(line_chart_png(["今天"], [Series("x", [3])], "一个点")).size == (800, 480)


@pytest.mark.parametrize("labels,series", [
    ([], [Series("x", [])]),
    (["a"], []),
    (["a", "b"], [Series("x", [1])]),
    (["a"], [Series("x", [float("nan")])]),
])
def test_bad_input_is_refused(labels, series):
    with pytest.raises(ValueError):
        bar_chart_png(labels, series, "t")


def test_numbers_on_the_axes():
    assert [format_number(v) for v in (3, 2.5, 12.25, 0.125)] == ["3", "2.5", "12.2", "0.12"]
    assert format_number(40, "%") == "40%"


NINETY = [date(2026, 8, 28) + timedelta(days=d) for d in range(90)]


def trend(days, watermark=""):
    n = len(days)
    return trend_chart_png(days, [
        Panel("成员人数", [Series("总人数", [400 + i for i in range(n)]), Series("活跃人数", [200 + i % 40 for i in range(n)])]),
        Panel("人均积分", [Series("人均积分", [5 + (i % 7) / 2 for i in range(n)])]),
        Panel("参与率", [Series("参与率", [50 + i % 30 for i in range(n)]), Series("达标率", [20.0] * n)], unit="%"),
    ], "某某县委宣传部学习组织 · 近 90 天", watermark=watermark)


@pytest.mark.parametrize("n", [1, 7, 30, 90])
def test_rep_3_trend_chart_for_7_30_90_days(n):
    image = opened(trend(NINETY[-n:]))
    assert image.width == 900 and 900 < image.height < 1300  # portrait: three plots stacked for a phone
    colours = {c for _, c in image.convert("RGB").getcolors(1_000_000)}
    assert (214, 48, 49) in colours and (9, 132, 227) in colours


def test_rep_3_smallest_label_is_readable_on_a_phone():
    """Telegram shows a photo ~320-400 px wide on a phone: the smallest text is >= 9 px there even at 320."""
    assert phone_px(SMALL_PT, phone_width_px=360) >= 9
    assert phone_px(SMALL_PT, phone_width_px=320) >= 8.4


def test_sec_2_watermark_changes_pixels_but_leaves_the_lines_visible():
    plain = opened(trend(NINETY)).convert("RGB")
    marked = opened(trend(NINETY, watermark="张伟 1234")).convert("RGB")
    assert ImageChops.difference(plain, marked).getbbox() is not None
    # the first series' red is still there in quantity (the watermark is faint, drawn over white mostly)
    def reds(image):
        return sum(n for n, (r, g, b) in image.getcolors(1_000_000) if r > 180 and g < 90 and b < 90)
    assert reds(marked) > 0.8 * reds(plain)


def test_rep_3_trend_chart_refuses_bad_input():
    with pytest.raises(ValueError):
        trend_chart_png(NINETY, [], "t")
    with pytest.raises(ValueError):
        trend_chart_png(NINETY[:3], [Panel("x", [Series("x", [1, 2])])], "t")
