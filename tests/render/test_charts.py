"""Charts as PNG bytes (LEARN-8 report, REP-3 trends): valid images of the asked size, Chinese text drawn
with the bundled font (not tofu boxes), bad input refused."""
from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image, ImageChops

from bot.render.charts import Series, bar_chart_png, format_number, line_chart_png, nice_ticks

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


def test_ticks_and_numbers():
    assert nice_ticks(0, 12) == [0, 2.5, 5, 7.5, 10, 12.5]
    assert nice_ticks(0, 12, integer=True) == [0, 5, 10, 15]
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(0, 0, integer=True) == [0, 1, 2, 3, 4, 5]
    assert nice_ticks(-2, 12)[0] < 0 <= nice_ticks(-2, 12)[-1]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert [format_number(v) for v in (3, 2.5, 12.25, 0.125)] == ["3", "2.5", "12.2", "0.12"]
    assert format_number(40, "%") == "40%"
