"""Due work as data: the due_work repository and the Sweeper that runs what is due by the injected clock."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock, MovableClock
from bot.repositories.due import DueItem, drop_due, put_due, utc_text
from bot.scheduler import Sweeper

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def pending(store) -> list[tuple[str, str]]:
    rows = await store._all("SELECT kind, ref FROM due_work WHERE done_at IS NULL ORDER BY due_at, id")
    return [(r["kind"], r["ref"]) for r in rows]


def test_utc_text_is_fixed_width_utc_so_strings_sort_by_time():
    shanghai = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)  # 00:00 UTC
    assert utc_text(shanghai) == "2026-11-23T00:00:00.000000+00:00"
    assert utc_text(datetime(2026, 11, 23, 0, 0, 0, 5, tzinfo=UTC)) == "2026-11-23T00:00:00.000005+00:00"
    times = [T0 + timedelta(microseconds=n) for n in (0, 1, 999_999, 1_000_000)]
    assert sorted(utc_text(t) for t in reversed(times)) == [utc_text(t) for t in times]
    with pytest.raises(ValueError):
        utc_text(datetime(2026, 11, 23, 9, 0))


async def test_due_items_come_in_due_order_and_only_when_due(store):
    await store.put_due_now("b", "late", T0 + timedelta(minutes=5))
    await store.put_due_now("a", "first", T0 - timedelta(minutes=1))
    await store.put_due_now("c", "now", T0)
    await store.put_due_now("d", "tomorrow", T0 + timedelta(days=1))
    due = await store.due_items(T0 + timedelta(minutes=5))
    assert [(i.kind, i.ref) for i in due] == [("a", "first"), ("c", "now"), ("b", "late")]
    assert due[0].due_at == T0 - timedelta(minutes=1) and due[0].due_at.tzinfo is not None
    assert [i.ref for i in await store.due_items(T0, limit=1)] == ["first"]
    assert await store.next_due_at() == T0 - timedelta(minutes=1)


async def test_put_due_replaces_the_time_and_rearms_a_done_row_drop_due_removes_it(store):
    await store.put_due_now("exam_deadline", "attempt:1", T0)
    [item] = await store.due_items(T0)
    await store.finish_due([item.id], T0)
    assert await store.due_items(T0 + timedelta(hours=1)) == []
    assert await store.next_due_at() is None
    async with store._tx() as db:  # inside the caller's own transaction, like write_audit
        await put_due(db, "exam_deadline", "attempt:1", T0 + timedelta(hours=2))
    assert await store.due_items(T0 + timedelta(hours=1)) == []
    [again] = await store.due_items(T0 + timedelta(hours=2))
    assert again.id == item.id and again.tries == 0  # (kind, ref) is one row
    async with store._tx() as db:
        await drop_due(db, "exam_deadline", "attempt:1")
        await drop_due(db, "exam_deadline", "attempt:404")  # absent is fine
    assert await store.due_row("exam_deadline", "attempt:1") is None


async def test_put_due_rolls_back_with_the_callers_transaction(store):
    with pytest.raises(RuntimeError):
        async with store._tx() as db:
            await put_due(db, "exam_deadline", "attempt:9", T0)
            raise RuntimeError("the action failed")
    assert await pending(store) == []


async def test_ensure_due_keeps_a_pending_time_and_rearms_a_done_row(store):
    assert await store.ensure_due("weekly_draw", "global", T0) is True
    assert await store.ensure_due("weekly_draw", "global", T0 + timedelta(days=7)) is False
    assert (await store.due_row("weekly_draw", "global")).due_at == utc_text(T0)  # what fell due is kept
    [item] = await store.due_items(T0)
    await store.finish_due([item.id], T0)
    assert await store.ensure_due("weekly_draw", "global", T0 + timedelta(days=7)) is True
    row = await store.due_row("weekly_draw", "global")
    assert row.due_at == utc_text(T0 + timedelta(days=7)) and row.done_at is None


def make_sweeper(store, clock, **kw) -> tuple[Sweeper, list[tuple[str, datetime]]]:
    ran: list[tuple[str, datetime]] = []
    sweeper = Sweeper(store, clock, **kw)

    async def record(item: DueItem, now: datetime) -> None:
        ran.append((item.ref, now))

    sweeper.register("note", record)
    return sweeper, ran


async def test_sweep_runs_what_is_due_by_the_clock_in_due_order_once(store):
    clock = FakeClock(TZ, T0)
    sweeper, ran = make_sweeper(store, clock)
    for ref, minutes in (("c", 3), ("a", 1), ("b", 2), ("later", 60)):
        await store.put_due_now("note", ref, T0 + timedelta(minutes=minutes))
    assert await sweeper.sweep() == 0
    clock.advance(minutes=3)
    assert await sweeper.sweep() == 3
    assert [ref for ref, _ in ran] == ["a", "b", "c"]
    assert {now for _, now in ran} == {clock.now()}  # handlers get the sweep's time
    assert await sweeper.sweep() == 0  # done rows do not run again
    assert await pending(store) == [("note", "later")]
    row = await store.due_row("note", "a")
    assert row.done_at == utc_text(clock.now())


async def test_a_crash_between_handler_and_finish_runs_the_item_again(store, monkeypatch):
    clock = FakeClock(TZ, T0)
    sweeper, ran = make_sweeper(store, clock)
    await store.put_due_now("note", "x", T0)
    real_finish = store.finish_due

    async def crash(ids, now):
        raise ConnectionError("the process died here")

    monkeypatch.setattr(store, "finish_due", crash)
    with pytest.raises(ConnectionError):
        await sweeper.sweep()
    assert ran == [("x", T0)] and await pending(store) == [("note", "x")]
    monkeypatch.setattr(store, "finish_due", real_finish)
    restarted, ran_again = make_sweeper(store, clock)  # as after a restart
    assert await restarted.sweep() == 1
    assert ran_again == [("x", T0)] and await pending(store) == []


async def test_a_failing_handler_is_retried_with_growing_backoff(store, caplog):
    clock = FakeClock(TZ, T0)
    sweeper = Sweeper(store, clock)
    calls: list[datetime] = []

    async def flaky(item: DueItem, now: datetime) -> None:
        calls.append(now)
        if len(calls) < 3:
            raise OSError(f"push failed {len(calls)}")

    sweeper.register("flaky", flaky)
    await store.put_due_now("flaky", "r", T0)
    await store.put_due_now("other", "kept", T0 + timedelta(days=1))
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert await sweeper.sweep() == 0
    assert "flaky r failed" in caplog.text
    row = await store.due_row("flaky", "r")
    assert (row.tries, row.last_error, row.done_at) == (1, "OSError: push failed 1", None)
    assert row.due_at == utc_text(T0 + timedelta(seconds=Sweeper.RETRY_FIRST))
    clock.advance(seconds=Sweeper.RETRY_FIRST - 1)
    assert await sweeper.sweep() == 0 and len(calls) == 1  # not before its time
    clock.advance(seconds=1)
    assert await sweeper.sweep() == 0 and len(calls) == 2
    row = await store.due_row("flaky", "r")
    assert row.tries == 2
    assert row.due_at == utc_text(clock.now() + timedelta(seconds=2 * Sweeper.RETRY_FIRST))  # doubled
    clock.advance(seconds=2 * Sweeper.RETRY_FIRST)
    assert await sweeper.sweep() == 1 and len(calls) == 3
    assert (await store.due_row("flaky", "r")).done_at == utc_text(clock.now())
    assert sweeper.backoff(30) == timedelta(seconds=Sweeper.RETRY_MAX)


async def test_a_handler_that_overruns_its_timeout_is_retried(store):
    clock = FakeClock(TZ, T0)
    sweeper = Sweeper(store, clock, timeout=0.01)

    async def stuck(item: DueItem, now: datetime) -> None:
        await asyncio.Event().wait()

    sweeper.register("stuck", stuck)
    await store.put_due_now("stuck", "r", T0)
    assert await sweeper.sweep() == 0
    row = await store.due_row("stuck", "r")
    assert (row.tries, row.last_error) == (1, "timed out")


async def test_two_sweeps_never_overlap(store):
    clock = FakeClock(TZ, T0)
    sweeper = Sweeper(store, clock)
    release, entered = asyncio.Event(), asyncio.Event()
    running = 0
    most = 0
    calls = 0

    async def slow(item: DueItem, now: datetime) -> None:
        nonlocal running, most, calls
        calls += 1
        running += 1
        most = max(most, running)
        entered.set()
        await release.wait()
        running -= 1

    sweeper.register("slow", slow)
    await store.put_due_now("slow", "r", T0)
    first = asyncio.create_task(sweeper.sweep())
    await entered.wait()
    second = asyncio.create_task(sweeper.sweep())
    for _ in range(50):
        await asyncio.sleep(0)
    assert not second.done()  # waiting for the first, not running beside it
    release.set()
    assert await first == 1
    assert await second == 0  # the item was done by then: it ran once
    assert (calls, most) == (1, 1)


async def test_handlers_run_concurrently_in_bounded_groups_in_due_order(store):
    clock = FakeClock(TZ, T0)
    sweeper = Sweeper(store, clock, concurrency=3, batch=4)
    started: list[str] = []
    running = 0
    most = 0

    async def work(item: DueItem, now: datetime) -> None:
        nonlocal running, most
        started.append(item.ref)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1

    sweeper.register("w", work)
    refs = [f"r{n:02d}" for n in range(10)]
    for n, ref in enumerate(refs):
        await store.put_due_now("w", ref, T0 - timedelta(seconds=10 - n))
    assert await sweeper.sweep() == 10  # three pages of the batch size
    assert started == refs
    assert most == 3


async def test_an_unknown_kind_is_kept_and_logged_once(store, caplog):
    clock = FakeClock(TZ, T0)
    sweeper, ran = make_sweeper(store, clock)
    await store.put_due_now("mystery", "m", T0 - timedelta(seconds=1))
    await store.put_due_now("note", "n", T0)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        assert await sweeper.sweep() == 1
        assert await sweeper.sweep() == 0
    assert caplog.text.count("'mystery' has no handler") == 1
    row = await store.due_row("mystery", "m")
    assert (row.done_at, row.tries) == (None, 0)
    assert ran == [("n", T0)]
    # a bot that knows the kind runs it
    later = Sweeper(store, clock)
    seen: list[str] = []

    async def known(item: DueItem, now: datetime) -> None:
        seen.append(item.ref)

    later.register("mystery", known)
    assert await later.sweep() == 1 and seen == ["m"]


async def test_a_handler_rearms_its_own_row_to_recur(store):
    clock = FakeClock(TZ, T0)
    sweeper = Sweeper(store, clock)
    runs: list[datetime] = []

    async def every_minute(item: DueItem, now: datetime) -> None:
        runs.append(now)
        await store.put_due_now(item.kind, item.ref, now + timedelta(minutes=1))

    sweeper.register("tick", every_minute)
    await store.put_due_now("tick", "t", T0)
    assert await sweeper.sweep() == 1
    assert await pending(store) == [("tick", "t")]  # re-armed, not marked done
    assert await sweeper.sweep() == 0
    clock.advance(minutes=1)
    assert await sweeper.sweep() == 1
    assert runs == [T0, T0 + timedelta(minutes=1)]


def test_register_twice_is_refused(store):
    sweeper = Sweeper(store, FakeClock(TZ, T0))

    async def h(item: DueItem, now: datetime) -> None: ...

    sweeper.register("k", h)
    with pytest.raises(ValueError):
        sweeper.register("k", h)


def test_movable_clock_runs_with_real_time_plus_an_offset():
    clock = MovableClock(TZ, offset_seconds=3600)
    assert clock.offset_seconds == 3600
    assert abs((clock.now() - datetime.now(UTC)).total_seconds() - 3600) < 5
    assert clock.now().tzinfo == TZ
    clock.advance(-7200)
    assert clock.offset_seconds == -3600
    target = datetime(2030, 1, 7, 0, 0, tzinfo=TZ)
    clock.set(target)
    assert abs((clock.now() - target).total_seconds()) < 5
    clock.set(datetime(2030, 1, 7, 0, 0))
    assert abs((clock.now() - target).total_seconds()) < 5
