"""Delivery through Telegram's bad moments: one per-chat pacer shared by direct replies and pushes,
the sender slowing down as a whole on 429s and recovering gradually, pushes that become obsolete
(a reminder past its deadline, a report superseded by a newer one) instead of going out late, the
newest report after days down naming the missed days, the admin's task view saying what is still
queued, and each row marked sent the moment Telegram accepted it (REP-5, WORK-1)."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from aiogram.methods import SendMessage

from bot.handlers.tasks import due_reminder_handler
from bot.outbox import Outbox, text_push
from bot.pacing import RECOVER_SECONDS, RateLimiter
from bot.reply_retry import ReplyRetry, handling
from bot.reports_notify import slot_handlers
from bot.repositories.due import DueItem
from bot.services import reports as rsvc
from bot.services import tasks as tsvc
from bot.services.roles import Actor
from bot.ui.tasks import view_text
from tests.conftest import TZ
from tests.handlers.test_orgreport import ALICE
from tests.handlers.test_orgreport import setup as report_setup
from tests.support.sql import store_rows
from tests.unit.test_tasks_service import setup as task_setup

pytestmark = pytest.mark.loose_pushes  # the sender's rules, fed directly


# -- one pacer for replies and pushes -------------------------------------------------------------
async def test_rep_5_a_direct_reply_waits_for_a_push_just_sent_to_its_chat_and_a_push_for_the_reply():
    pacer = RateLimiter(1000, 0.3)
    middleware = ReplyRetry(pacer=pacer)
    sent_at: list[tuple[str, float]] = []

    async def make_request(bot, method):
        sent_at.append((method.text, time.monotonic()))
        return "ok"

    async with pacer.slot(7):  # the outbox's push to chat 7
        sent_at.append(("push", time.monotonic()))

    async def reply() -> None:
        handling()  # this task handles an update: its calls are direct replies
        await middleware(make_request, None, SendMessage(chat_id=7, text="reply"))  # type: ignore[arg-type]

    await asyncio.create_task(reply())
    async with pacer.slot(7):  # the next push waits for the reply in turn
        sent_at.append(("push 2", time.monotonic()))
    names = [n for n, _ in sent_at]
    gaps = [b - a for (_, a), (_, b) in zip(sent_at, sent_at[1:], strict=False)]
    assert names == ["push", "reply", "push 2"]
    assert min(gaps) >= 0.29  # each a full chat interval after the one before


async def test_rep_5_a_chat_busy_with_replies_does_not_hold_back_pushes_to_other_chats():
    pacer = RateLimiter(100, 5.0)
    pacer.ended(1)  # chat 1 just got a reply: its next turn is 5 s away
    started = time.monotonic()
    waiting = asyncio.create_task(pacer.acquire(1))
    await pacer.acquire(2)
    await pacer.acquire(3)
    assert time.monotonic() - started < 0.5  # chats 2 and 3 went at the overall rate
    waiting.cancel()


def test_rep_5_many_429s_slow_the_whole_sender_down_and_it_recovers_gradually():
    now = [0.0]
    pacer = RateLimiter(25, 1.0, monotonic=lambda: now[0])
    for _ in range(16):
        pacer.congested()
    assert pacer.rate() == 25  # a few refusals among a second's sends: those chats wait, the others go on
    for _chat in range(40):  # 429s from many chats in the same second: one halving
        pacer.congested()
    assert pacer.rate() == pytest.approx(12.5)
    for _ in range(10):  # refused second after second: about a tenth of the rate, never below the floor
        now[0] += 1.0
        for _chat in range(25):
            pacer.congested()
        assert pacer.rate() >= 1.0
    assert pacer.rate() < 2.5
    now[0] += 1.0 + RECOVER_SECONDS / 2  # the refusals stopped: back to the rate gradually, not at once
    assert 2.5 < pacer.rate() < 25
    now[0] += RECOVER_SECONDS
    assert pacer.rate() == 25


# -- obsolete pushes ------------------------------------------------------------------------------
async def test_rep_5_a_push_past_its_expiry_is_obsolete_not_sent(store, clock, outbox, session):
    await outbox.enqueue(text_push(11, "请在 18:00 前确认", expires_at=clock.now() + timedelta(minutes=30)),
                         text_push(12, "普通通知"))
    clock.advance(minutes=31)  # Telegram was down until after the deadline
    await outbox.flush()
    assert [c.chat_id for c in session.calls if isinstance(c, SendMessage)] == [12]
    assert await store.push_counts() == {"sent": 1, "obsolete": 1}


async def test_work_1_a_before_deadline_reminder_due_after_a_clock_jump_past_the_deadline_is_dropped(
        store, settings, clock, outbox, i18n):
    org, actor = await task_setup(store, settings)
    sent = await tsvc.send_task(store, clock, actor, await tsvc.make_target(store, actor, org, "org"), "任务",
                                needs_confirm=True, deadline=clock.now() + timedelta(hours=3))
    remind = due_reminder_handler(store, clock, i18n, outbox)
    item = DueItem(1, tsvc.DUE_KIND, f"task:{sent.task.id}", clock.now() + timedelta(hours=1))
    clock.advance(days=1)  # the clock jumped (or the bot was down) past the deadline
    await remind(item, clock.now())
    assert await store_rows(store, "SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE '%:auto'") == []


async def report_slot(store, clock, i18n, outbox, root: int, day, due: datetime) -> None:
    handler = slot_handlers(store, clock, i18n, outbox)[rsvc.SLOT_KIND]
    await handler(DueItem(1, rsvc.SLOT_KIND, rsvc.slot_ref(root, ALICE, day), due), clock.now())


async def text_reports(store) -> list[tuple[str, str, str]]:
    rows = await store_rows(store, "SELECT dedupe_key, status, payload FROM outbox WHERE kind = 'text' ORDER BY id")
    return [(k.split(":")[3], s, p) for k, s, p in rows]


async def alice_gets_text_reports(store, clock, root: int) -> None:
    admin = await store.get_user(510001)
    actor = Actor(user=admin, admin_org_ids=frozenset({root}))
    s = await rsvc.settings(store, actor, root)
    await rsvc.save_settings(store, clock, actor, s.__class__(root, True, "08:00", "text", 5, 3, (ALICE,)))


async def test_rep_5_a_report_still_waiting_is_superseded_by_the_next_days_which_names_it(
        store, clock, outbox, i18n):
    root, _ = await report_setup(store, clock)
    await alice_gets_text_reports(store, clock, root)
    day = clock.today()  # Telegram is down: the 08:00 report stays queued ...
    await report_slot(store, clock, i18n, outbox, root, day, clock.now())
    clock.advance(days=1)  # ... until the next day's slot: the newest replaces it
    await report_slot(store, clock, i18n, outbox, root, day + timedelta(days=1), clock.now())
    rows = await text_reports(store)
    assert [(d, s) for d, s, _ in rows] == [(str(day), "obsolete"), (str(day + timedelta(days=1)), "pending")]
    assert "11-22 的报表未能送出" in rows[1][2]


async def test_rep_5_after_days_down_the_recipient_gets_the_newest_report_naming_the_missed_days(
        store, clock, outbox, i18n):
    root, _ = await report_setup(store, clock)  # 2026-11-23 09:00
    await alice_gets_text_reports(store, clock, root)
    armed = clock.today() + timedelta(days=1)  # the 11-24 08:00 slot; the bot stops before it ...
    due = datetime(2026, 11, 24, 8, 0, tzinfo=TZ)
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=TZ))  # ... and starts again three days later
    await report_slot(store, clock, i18n, outbox, root, armed, due)
    rows = await text_reports(store)
    assert [(d, s) for d, s, _ in rows] == [("2026-11-27", "pending")]  # the newest, not 11-24's alone
    assert "11-23, 11-24, 11-25 的报表未能送出" in rows[0][2]
    nxt = await store_rows(store, "SELECT ref FROM due_work WHERE kind = 'report_slot'")
    assert (rsvc.slot_ref(root, ALICE, datetime(2026, 11, 28).date()),) in nxt  # and tomorrow's goes as usual


# -- what the admin sees, and marking sent at once --------------------------------------------------
async def test_work_1_the_task_view_says_how_many_notices_are_still_queued(store, settings, clock, outbox, i18n):
    org, actor = await task_setup(store, settings)
    target = await tsvc.make_target(store, actor, org, "org")
    sent = await tsvc.send_task(store, clock, actor, target, "任务", needs_confirm=True)
    from bot.ui.tasks import notice_pushes
    await outbox.enqueue(*notice_pushes(i18n, clock, sent))  # Telegram down: nothing sent yet
    view = await tsvc.task_view(store, actor, sent.task.id)
    text = view_text(i18n.translator("zh"), clock, view)
    assert "已送达 0" in text and "排队待发 3" in text and "发送失败 0" in text


async def test_rep_5_each_push_is_marked_sent_the_moment_telegram_accepts_it(store, clock, bot):
    release, looked = asyncio.Event(), asyncio.Event()
    seen: list[dict[str, int]] = []
    outbox = Outbox(store, bot, clock, per_second=1000, chat_interval=0)

    async def slow(make_request, bot, method):  # the second push hangs in flight, the first was accepted
        if getattr(method, "chat_id", None) == 22:
            await asyncio.sleep(0.2)
            seen.append(await store.push_counts())
            looked.set()
            await release.wait()
        return await make_request(bot, method)

    bot.session.middleware(slow)
    await outbox.enqueue(text_push(21, "a"), text_push(22, "b"))
    flushing = asyncio.create_task(outbox.flush())
    await asyncio.wait_for(looked.wait(), 10)
    counts = seen[0]
    release.set()
    await flushing
    assert counts.get("sent") == 1  # a crash now would repeat only the push in flight


async def test_rep_5_a_direct_reply_does_not_wait_for_the_chats_earlier_reply_but_a_push_does():
    """A person waits for the bot's answer: the second call of a reply goes at once (a 429 there is
    waited out by the reply's retry), while a push keeps the chat's full interval after any call."""
    now = [100.0]
    pacer = RateLimiter(25, 1.0, monotonic=lambda: now[0])
    assert await pacer.chat_turn(7, 5.0) == 0.0
    pacer.ended(7)
    assert pacer.reply_wait(7) == 0.0  # the reply's next call: at once
    assert pacer.chat_wait(7) == 1.0  # a push for the chat: a second after the reply
    other = 8
    await pacer.acquire(other)  # a push took chat 8's turn: a reply there waits for it
    pacer.ended(other)
    assert pacer.reply_wait(other) == 1.0
