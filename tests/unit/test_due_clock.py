"""The bot's clock (CLOCK_OFFSET_SECONDS) and the quiz's due work: the LEARN-3 weekly draw and challenge
time-outs as rows the sweep runs, a restart and a moved clock taking the same path."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock, MovableClock
from bot.config import ConfigError, load_settings
from bot.scheduler import Sweeper
from bot.services import quiz
from tests.support.quiz_factories import make_bank

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123"
TZ = ZoneInfo("Asia/Shanghai")


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"BOT_TOKEN": TOKEN, "DATABASE_PATH": str(tmp_path / "db.sqlite3"), **extra}


@pytest.mark.parametrize(("raw", "offset"), [("", 0.0), ("3600", 3600.0), (" -90.5 ", -90.5), ("1e3", 1000.0)])
def test_clock_offset_seconds_is_read(tmp_path, raw, offset):
    assert load_settings(env(tmp_path, CLOCK_OFFSET_SECONDS=raw), dotenv=None).clock_offset_seconds == offset


@pytest.mark.parametrize(("raw", "reason"), [
    ("soon", "'soon' is not a number of seconds (e.g. 3600 or -90.5)"),
    ("nan", "must be a finite number of seconds within ±100 years"),
    ("inf", "must be a finite number of seconds within ±100 years"),
    ("1e12", "must be a finite number of seconds within ±100 years"),
])
def test_a_bad_clock_offset_names_the_variable(tmp_path, raw, reason):
    with pytest.raises(ConfigError) as err:
        load_settings(env(tmp_path, CLOCK_OFFSET_SECONDS=raw), dotenv=None)
    assert str(err.value) == f"CLOCK_OFFSET_SECONDS: {reason}"


def test_cli_prints_one_line_for_a_bad_clock_offset(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CLOCK_OFFSET_SECONDS", "tomorrow")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("configuration error: CLOCK_OFFSET_SECONDS: 'tomorrow' is not a number of seconds "
                   "(e.g. 3600 or -90.5)")]


async def test_the_app_clock_starts_at_the_configured_offset(tmp_path):
    from bot.app import App

    settings = load_settings(env(tmp_path, CLOCK_OFFSET_SECONDS="86400"), dotenv=None)
    app = await App.create(settings)
    try:
        assert isinstance(app.clock, MovableClock) and app.clock.offset_seconds == 86400
        assert abs((app.clock.now() - datetime.now(UTC)).total_seconds() - 86400) < 5
        assert {quiz.WEEKLY_DRAW, quiz.CHALLENGE_SCAN, "task_remind",  # WORK-1's reminder, the exams' (LEARN-6)
                "exam_deadline", "exam_tick", "exam_remind", "exam_publish"} <= app.sweeper.kinds  # and the reports'
        assert [j["id"] for j in app.scheduler.list_jobs()] == ["outbox", "sweep"]
        weekly = await app.store.due_row(quiz.WEEKLY_DRAW, "global")
        assert datetime.fromisoformat(weekly.due_at) == quiz.next_monday(app.clock.now(), TZ)
    finally:
        await app.close()


@pytest.mark.parametrize(("local", "monday"), [
    (datetime(2026, 11, 23, 0, 0), datetime(2026, 11, 30)),        # Monday 00:00 itself: the next one
    (datetime(2026, 11, 29, 23, 59, 59), datetime(2026, 11, 30)),  # Sunday night
    (datetime(2026, 11, 25, 12, 0), datetime(2026, 11, 30)),
])
def test_next_monday_is_midnight_in_the_configured_zone(local, monday):
    assert quiz.next_monday(local.replace(tzinfo=TZ).astimezone(UTC), TZ) == monday.replace(tzinfo=TZ)


def quiz_sweeper(store, clock) -> Sweeper:
    sweeper = Sweeper(store, clock)
    for kind, handler in quiz.due_handlers(store, clock).items():
        sweeper.register(kind, handler)
    return sweeper


async def weekly_periods(store) -> list[str]:
    return [r["period"] for r in await store._all("SELECT period FROM weekly_sets ORDER BY period")]


async def test_learn_3_weekly_draw_missed_while_down_runs_at_the_first_sweep_after_restart(store):
    await make_bank(store, 12)
    sunday = FakeClock(TZ, datetime(2026, 11, 29, 20, 0, tzinfo=TZ))
    await quiz.arm_due_work(store, sunday)
    await quiz_sweeper(store, sunday).sweep()
    assert await weekly_periods(store) == []
    # the bot is down over Monday 00:00 and starts again on Tuesday: arming at start keeps the missed time
    tuesday = FakeClock(TZ, datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    await quiz.arm_due_work(store, tuesday)
    assert await store.due_items(tuesday.now()) != []
    await quiz_sweeper(store, tuesday).sweep()
    assert await weekly_periods(store) == ["2026-W49"]
    armed = await store.due_row(quiz.WEEKLY_DRAW, "global")
    assert datetime.fromisoformat(armed.due_at) == datetime(2026, 12, 7, tzinfo=TZ)
    # the next Monday draws the next week's set, once
    tuesday.set(datetime(2026, 12, 7, 0, 0, 1, tzinfo=TZ))
    sweeper = quiz_sweeper(store, tuesday)
    await sweeper.sweep()
    await sweeper.sweep()
    assert await weekly_periods(store) == ["2026-W49", "2026-W50"]


async def test_the_challenge_scan_rearms_itself_every_ten_seconds(store):
    clock = FakeClock(TZ, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    await quiz.arm_due_work(store, clock)
    sweeper = quiz_sweeper(store, clock)
    assert await sweeper.sweep() == 1
    row = await store.due_row(quiz.CHALLENGE_SCAN, "all")
    assert row.done_at is None
    assert datetime.fromisoformat(row.due_at) == clock.now() + timedelta(seconds=quiz.CHALLENGE_SCAN_SECONDS)
    clock.advance(seconds=quiz.CHALLENGE_SCAN_SECONDS - 1)
    assert await sweeper.sweep() == 0
    clock.advance(seconds=1)
    assert await sweeper.sweep() == 1
