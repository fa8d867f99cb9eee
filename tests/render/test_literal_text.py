"""Names are drawn as typed (REP-3, LEARN-8, SEC-2): `$…$`, `\\`, `_`, `^` are not read as math by
matplotlib, and characters the bundled CJK subset lacks (emoji) are left out instead of drawn as boxes
in charts, watermarks and QR captions."""
from __future__ import annotations

import warnings
from datetime import date, timedelta
from typing import Any

import pytest
from matplotlib.backends.backend_agg import RendererAgg

from bot.render.charts import Panel, Series, bar_chart_png, trend_chart_png
from bot.render.qr import invite_qr_png
from bot.render.watermark import watermark_png

MATH_ORG = "学习组$\\alpha\\zzz$"
MATH_PERSON = "赵$\\x$ a_b^c"
DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(7)]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every string matplotlib draws, with its math flag."""
    seen: list[tuple[str, Any]] = []
    original = RendererAgg.draw_text

    def record(self: RendererAgg, gc: Any, x: float, y: float, s: str, prop: Any, angle: float,
               ismath: Any = False, mtext: Any = None) -> None:
        seen.append((s, ismath))
        original(self, gc, x, y, s, prop, angle, ismath, mtext)

    monkeypatch.setattr(RendererAgg, "draw_text", record)
    return seen


def _trend(title: str, series_name: str = "参与率") -> bytes:
    panel = Panel("参与率", [Series(series_name, [1, 2, 3, 4, 5, 6, 7]), Series("目标", [0, 1, 0, 1, 0, 1, 0])])
    return trend_chart_png(DAYS, [panel], title, watermark=f"{MATH_PERSON} 2222")


def test_rep_3_trend_of_an_organisation_named_like_math_is_drawn_literally(drawn):
    _trend(f"{MATH_ORG} · 近 7 天", series_name="a$x$_1")
    assert (f"{MATH_ORG} · 近 7 天", False) in drawn
    assert ("a$x$_1", False) in drawn
    assert all(not ismath for _s, ismath in drawn)


def test_learn_8_report_chart_of_a_person_named_like_math_is_drawn_literally(drawn):
    bar_chart_png(["11-01", "$a$"], [Series("每日答题", [1, 2])], f"近 7 天积分 · {MATH_PERSON}")
    assert (f"近 7 天积分 · {MATH_PERSON}", False) in drawn
    assert ("$a$", False) in drawn


def test_rep_3_emoji_in_a_name_is_left_out_of_a_chart_not_drawn_as_a_box(drawn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _trend("学习组😀🇨🇳 · 近 7 天")
    assert [str(w.message) for w in caught if "missing" in str(w.message)] == []
    assert ("学习组 · 近 7 天", False) in drawn


def test_sec_2_watermark_leaves_out_glyphs_the_font_lacks():
    base = bar_chart_png(["11-01"], [Series("每日答题", [1])], "图")
    assert watermark_png(base, "赵磊😀✈\u200b 2222") == watermark_png(base, "赵磊 2222")


def test_sec_2_watermark_of_a_math_like_name_is_drawn():
    base = bar_chart_png(["11-01"], [Series("每日答题", [1])], "图")
    assert watermark_png(base, MATH_PERSON) != base


def test_work_2_activity_poster_caption_leaves_out_emoji():
    url = "https://t.me/xuexi_test_bot?start=a_1"
    assert invite_qr_png(url, "党课🎉学习", "口令 🙂 1234") == invite_qr_png(url, "党课学习", "口令  1234")
