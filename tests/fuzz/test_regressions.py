"""What the fuzz tests found, one test each, typed as a person types it.

- "¹" (and "²", "⁰"…) passes str.isdigit() but not int(): the report settings' target, inactive days and
  send time and an activity's points answered with the generic apology; the operator's root search by
  "#" and 20 digits too (an int SQLite cannot hold). Now
  typed numbers are read after NFKC ("¹⁰", "①", "１２" are 10, 1, 12); other digits get the step's message.
- An adjustment of points with a 4,000-character reason was written (points, audit log), then the
  confirmation echoing the reason was over Telegram's 4,096 characters: the admin saw the apology for an
  adjustment that had been made.
- Forged buttons: a number SQLite cannot hold (an id, or a page whose offset overflows), a report's
  "days" of "¹" or of 11 digits (int() / C int), a branch kind that is neither kind (a missing locale
  key) answered with the apology."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.text import whole_number
from tests.fuzz.harness import OPERATOR_ID, Env, run_env
from tests.fuzz.test_text_into_states import ROUTES, reach
from tests.fuzz.world import World
from tests.support.recording import Sent


def typed(tmp: Path, target: str, text: str) -> tuple[Sent, list[str], dict[str, int], dict[str, int]]:
    """Reaches `target`, types `text`: (what the bot sent, what went wrong, row counts before, after)."""
    out: list = []

    def body(env: Env) -> None:
        world = World(env)
        env.run(reach(world, target))
        before = env.run(env.counts())
        with env.watching():
            sent = env.run(world.client().send(text))
            out.extend([sent, env.problems(sent), before, env.run(env.counts())])

    run_env(tmp, body)
    return out[0], out[1], out[2], out[3]


@pytest.mark.parametrize("raw,value", [("12", 12), (" 7 ", 7), ("１２", 12), ("¹", 1), ("①", 1), ("²³", 23),
                                       ("٣", None), ("-1", None), ("1.5", None), ("", None), (None, None),
                                       ("1234567890", None), ("9" * 4000, None)])
def test_whole_number_takes_what_int_can_and_sqlite_can_hold(raw, value):
    assert whole_number(raw) == value


@pytest.mark.parametrize("target,text,expected", [
    ("SettingsInput:inactive_days", "¹⁰", "不活跃判定：连续 10 天"),  # NFKC reads it as 10
    ("SettingsInput:inactive_days", "٣", "天数应为 1 到 60 之间的整数"),
    ("SettingsInput:inactive_days", "9" * 30, "天数应为 1 到 60 之间的整数"),
    ("SettingsInput:target", "⑤", "每日积分目标：5"),
    ("SettingsInput:send_time", "²¹:³⁰", "发送时间：每天 21:30"),
    ("SettingsInput:send_time", "٢١:٣٠", "时间格式不对"),
    ("ActivityCreate:points", "٣", "请发送 0 到"),
])
def test_other_digits_are_read_or_get_the_steps_own_message(tmp_path, target, text, expected):
    sent, problems, before, after = typed(tmp_path, target, text)
    assert problems == [] and expected in sent.text
    if "：" not in expected:  # refused: nothing written
        assert before == after


def test_a_reason_too_long_adjusts_nothing_and_says_so(tmp_path):
    sent, problems, before, after = typed(tmp_path, "PointsAdjust:amount", "+5 " + "志愿服务" * 1000)
    assert problems == [] and "原因请控制在 200 字以内" in sent.text
    assert (after["points"], after["audit_log"]) == (before["points"], before["audit_log"])
    sent, problems, before, after = typed(tmp_path / "ok", "PointsAdjust:amount", "+5 " + "志" * 200)
    assert problems == [] and "已为 王芳 调整积分 +5" in sent.text and after["points"] == before["points"] + 1


def test_the_operators_root_search_by_a_number_too_big_for_sqlite(tmp_path):
    def body(env: Env) -> None:
        world = World(env)
        env.run(world.setup())
        with env.watching():
            sent = env.run(env.client(OPERATOR_ID).send("/certify #" + "9" * 20))
            assert env.problems(sent) == [] and sent.texts

    run_env(tmp_path, body)


assert {"SettingsInput:inactive_days", "PointsAdjust:amount", "ActivityCreate:points"} <= set(ROUTES)


@pytest.mark.parametrize("who,data", [
    ("other", "la:9223372036854775808"), ("other", "me:rm_yes:99999999999999999999"),
    ("other", "rp:trend:-9223372036854775809:0:7"),
    ("admin", "rp:table:1:9223372036854775807:"),  # a page whose offset overflowed SQLite
    ("admin", "rs:recipients:1:9007199254740992:1"),
    ("admin", "ob:add:1:0:"), ("admin", "ob:add:1:0:x"),  # a branch kind that is neither: a missing locale key
])
def test_a_forged_button_with_a_number_too_big_or_a_kind_unknown_is_a_stale_button(tmp_path, who, data):
    def body(env: Env) -> None:
        world = World(env)
        env.run(world.setup())
        with env.watching():
            sent = env.run(world.client(who).click(data))  # forged: a value no button of ours carries
            assert env.problems(sent) == []
        assert [a.text for a in sent.answers] == ["这个按钮已失效，请重新打开菜单。"]

    run_env(tmp_path, body)


@pytest.mark.parametrize("arg", ["¹", "99999999999"])
def test_a_forged_report_range_gets_a_specific_answer(tmp_path, arg):
    def body(env: Env) -> None:
        world = World(env)
        env.run(world.setup())
        for act in ("trend", "export_range"):
            with env.watching():
                sent = env.run(world.client("admin").click(f"rp:{act}:1:0:{arg}"))  # forged: days no button has
                assert env.problems(sent) == [] and sent.answers

    run_env(tmp_path, body)
