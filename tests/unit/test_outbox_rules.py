"""Issue 13, "the outbox, finished": claim/mark, 403 -> unreachable -> skipped -> cleared when the
person writes again, 429 pausing one chat only, attempt caps, files uploaded once, bounded
bookkeeping, pushes written in the action's own transaction."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestServer

from bot.outbox import Outbox, file_push, text_push
from bot.pacing import RateLimiter
from bot.repositories.outbox import enqueue_in
from bot.sandbox.server import build_sandbox_app
from bot.services.outbox_status import unreachable_user_ids
from bot.store import Store
from tests.unit.test_outbox import TOKEN, bot_messages, faults, stats, users

pytestmark = pytest.mark.loose_pushes  # the sender itself, fed directly


@pytest.fixture
async def server():
    srv = TestServer(build_sandbox_app())
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def http(server):
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session


@pytest.fixture
async def tg_bot(server):
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))),
              default=DefaultBotProperties(parse_mode="HTML"))
    yield bot
    await bot.session.close()


def fake_time(clock):
    """The limiter's seconds follow the test's clock, so a 429's pause ends when the clock moves."""
    return lambda: clock.now().timestamp()


def box_for(store, tg_bot, clock, **kw) -> Outbox:
    kw.setdefault("per_second", 1000)
    kw.setdefault("chat_interval", 0.001)
    return Outbox(store, tg_bot, clock, monotonic=fake_time(clock), **kw)


async def statuses(store: Store) -> list[tuple[int, str]]:
    rows = await store._all("SELECT chat_id, status FROM outbox ORDER BY id")
    return [(r["chat_id"], r["status"]) for r in rows]


# -- claim and mark -------------------------------------------------------------------------------
async def test_issue13_claim_takes_one_row_per_chat_and_marks_it_sending(store, clock):
    now = clock.now().isoformat()
    await store.enqueue_pushes([text_push(1, "a1"), text_push(2, "b1"), text_push(1, "a2")], now)
    claim = await store.claim_pushes(now)
    assert [(p.chat_id, p.payload["text"]) for p in claim.pushes] == [(1, "a1"), (2, "b1")]
    assert await statuses(store) == [(1, "sending"), (2, "sending"), (1, "pending")]
    # a chat whose row is in flight sends nothing else meanwhile: its order is kept
    assert (await store.claim_pushes(now)).pushes == []
    await store.mark_push_sent(claim.pushes[0].id, 7, now)
    await store.mark_push_retry(claim.pushes[1].id, "500", (clock.now().replace(year=2100)).isoformat())
    assert [p.payload["text"] for p in (await store.claim_pushes(now)).pushes] == ["a2"]
    assert await store.push_counts() == {"sent": 1, "pending": 1, "sending": 1}


async def test_issue13_rows_left_sending_by_a_crash_are_sent_again(settings, clock, tg_bot, http):
    a, b = await users(http, 2)
    store = await Store.open(settings.database_path)
    now = clock.now().isoformat()
    await store.enqueue_pushes([text_push(a, "在途"), text_push(b, "已送达")], now)
    claim = await store.claim_pushes(now)
    await store.mark_push_sent(claim.pushes[1].id, 1, now)  # b's went out and was marked; a's was in flight
    await store.close()  # the kill
    store = await Store.open(settings.database_path)
    assert await box_for(store, tg_bot, clock).flush() == 1
    assert [m["text"] for m in await bot_messages(http, a)] == ["在途"]
    assert await bot_messages(http, b) == []  # marked sent: never again
    assert await store.push_counts() == {"sent": 2}
    await store.close()


# -- 403: the person is unreachable until they write again -----------------------------------------
async def test_issue13_403_marks_person_unreachable_skips_later_pushes_until_they_write(
        store, clock, tg_bot, http, client_factory):
    a, b = await users(http, 2)
    async with http.post(f"/sandbox/users/{a}/block") as r:
        assert r.status == 200
    box = box_for(store, tg_bot, clock)
    await box.enqueue(text_push(a, "x"), text_push(b, "y"))
    await box.flush()
    assert await store.push_counts() == {"sent": 1, "unreachable": 1}
    assert await unreachable_user_ids(store, [a, b]) == {a}
    # later pushes to them are skipped and counted, without a call to Telegram
    await box.enqueue(text_push(a, "z1"), text_push(a, "z2"), text_push(b, "w"))
    assert await box.flush() == 3
    assert await store.push_counts() == {"sent": 2, "unreachable": 1, "skipped_unreachable": 2}
    assert (await stats(http))["calls"]["sendMessage"] == 3
    clock.advance(hours=1)
    assert await box.flush() == 0  # never retried
    # they unblock and write to the bot: the flag goes, pushes reach them again
    async with http.post(f"/sandbox/users/{a}/unblock") as r:
        assert r.status == 200
    await client_factory(user_id=a).send("你好")
    assert await unreachable_user_ids(store, [a, b]) == set()
    await box.enqueue(text_push(a, "again"))
    await box.flush()
    assert [m["text"] for m in await bot_messages(http, a)] == ["again"]


async def test_issue13_unreachable_flag_survives_a_restart(settings, clock):
    store = await Store.open(settings.database_path)
    now = clock.now().isoformat()
    await store.enqueue_pushes([text_push(5, "x")], now)
    [push] = (await store.claim_pushes(now)).pushes
    await store.mark_unreachable(push.id, 5, "Forbidden: bot was blocked by the user", now)
    await store.close()
    store = await Store.open(settings.database_path)
    assert await unreachable_user_ids(store, [5, 6]) == {5}
    assert await store.clear_unreachable(5) is True
    assert await store.clear_unreachable(5) is False
    await store.close()
    store = await Store.open(settings.database_path)
    assert await unreachable_user_ids(store, [5]) == set()
    await store.close()


# -- 429: one chat waits, the others go on; attempts are capped -------------------------------------
async def test_issue13_429_retry_after_pauses_that_chat_only(store, clock, tg_bot, http):
    a, b = await users(http, 2)
    await faults(http, {"fail": [{"method": "sendMessage", "status": 429, "count": 1, "retry_after": 3}]})
    box = box_for(store, tg_bot, clock)
    await box.enqueue(text_push(a, "a1"), text_push(b, "b1"), text_push(a, "a2"), text_push(b, "b2"))
    await box.flush()  # returns without waiting 3 s: a's rows wait, b's went out
    assert [m["text"] for m in await bot_messages(http, b)] == ["b1", "b2"]
    assert await bot_messages(http, a) == []
    assert box.limiter.paused_for(a) == pytest.approx(3, abs=0.01) and box.limiter.paused_for(b) == 0
    clock.advance(seconds=2)
    assert await box.flush() == 0  # retry_after is obeyed
    clock.advance(seconds=1)
    await box.flush()
    assert [m["text"] for m in await bot_messages(http, a)] == ["a1", "a2"]  # in order, once each
    assert (await stats(http))["rate_limited"] == 1
    assert await store.push_counts() == {"sent": 4}


async def test_rep_5_429s_are_not_counted_into_an_attempt_cap_the_push_arrives_after_the_flood(
        store, clock, tg_bot, http):
    [a] = await users(http, 1)
    await faults(http, {"fail": [{"method": "sendMessage", "status": 429, "count": 10, "retry_after": 1}]})
    box = box_for(store, tg_bot, clock, max_attempts=3, backoff_max=4)
    await box.enqueue(text_push(a, "x"))
    for _ in range(12):
        await box.flush()
        assert await store.push_counts() in ({"pending": 1}, {"sent": 1})  # never 'failed'
        clock.advance(seconds=4)
    assert [m["text"] for m in await bot_messages(http, a)] == ["x"]
    assert await store.push_counts() == {"sent": 1}
    assert (await stats(http))["calls"]["sendMessage"] == 11


async def test_rep_5_5xx_retried_with_capped_backoff_until_telegram_answers(store, clock, tg_bot, http):
    [a] = await users(http, 1)
    await faults(http, {"fail": [{"method": "sendMessage", "status": 502, "count": 10}]})
    box = box_for(store, tg_bot, clock, max_attempts=3, backoff_max=4)
    await box.enqueue(text_push(a, "x"))
    await box.flush()
    for wait in (1, 2, 4, 4, 4, 4, 4, 4, 4, 4):  # 1, 2, 4 ... and never more than backoff_max
        clock.advance(seconds=wait - 0.1)
        assert await box.flush() == 0
        clock.advance(seconds=0.1)
        assert await box.flush() == 1
    assert [m["text"] for m in await bot_messages(http, a)] == ["x"]
    assert await store.push_counts() == {"sent": 1}
    assert (await stats(http))["calls"]["sendMessage"] == 11


# -- files sent to many ---------------------------------------------------------------------------
async def test_issue13_file_sent_to_many_is_stored_once_and_uploaded_once(store, clock, tg_bot, http):
    ids = await users(http, 6)
    data = b"%PDF-1.4 the same notice for everybody" * 100
    box = box_for(store, tg_bot, clock)
    await box.enqueue(*[file_push(uid, "document", data, "通知.pdf", caption="请查收") for uid in ids[:5]])
    assert await store._value("SELECT COUNT(*) FROM outbox_files") == 1
    assert await store._value("SELECT COUNT(*) FROM outbox WHERE file_data IS NOT NULL") == 0
    await box.flush()
    docs = [(await bot_messages(http, uid))[0]["document"] for uid in ids[:5]]
    assert {d["file_name"] for d in docs} == {"通知.pdf"}
    assert len({d["file_id"] for d in docs}) == 1  # each upload gets a new file_id: one upload
    # a later push of the same bytes goes by the stored file_id too
    await box.enqueue(file_push(ids[5], "document", data, "通知.pdf"))
    await box.flush()
    assert (await bot_messages(http, ids[5]))[0]["document"]["file_id"] == docs[0]["file_id"]
    assert await store.push_counts() == {"sent": 6}
    assert len(box._uploads) == 0  # no lock left behind


# -- bounded bookkeeping --------------------------------------------------------------------------
async def test_issue13_limiter_bookkeeping_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(10_000, 1.0, monotonic=lambda: now[0], prune_at=256)
    for chat in range(20_000):
        await limiter.acquire(chat)
        if chat % 7 == 0:
            limiter.pause(2.0, chat)
        now[0] += 0.01  # 100 chats a second: about 100 constrain, plus the paused of the last 2 s
    assert limiter.tracked_chats() <= 2 * 256
    assert limiter.paused_for(19_999 - 19_999 % 7) > 0 and limiter.paused_for(1) == 0


async def test_issue13_limiter_spaces_one_chat_and_the_whole_rate():
    now = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(10, 1.0, monotonic=lambda: now[0])

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    real_sleep, asyncio.sleep = asyncio.sleep, sleep  # type: ignore[assignment]
    try:
        for chat in (1, 2, 3, 1):
            await limiter.acquire(chat)
    finally:
        asyncio.sleep = real_sleep  # type: ignore[assignment]
    assert slept == [0.1, 0.1, 0.8]  # 10/s overall; chat 1's second send a full second after its first


# -- pushes in the action's own transaction --------------------------------------------------------
async def test_issue13_enqueue_in_rolls_back_with_the_action(store, clock):
    now = clock.now().isoformat()
    with pytest.raises(RuntimeError):
        async with store.raw_tx() as db:
            assert await enqueue_in(db, [text_push(1, "x"), file_push(1, "photo", b"png", "a.png")], now) == 2
            raise RuntimeError("the action failed after its pushes were written")
    assert await store.push_counts() == {}
    assert await store._value("SELECT COUNT(*) FROM outbox_files") == 0
    async with store.raw_tx() as db:
        await enqueue_in(db, [text_push(1, "x", dedupe_key="k")], now)
        assert await enqueue_in(db, [text_push(1, "x", dedupe_key="k")], now) == 0
    assert await store.push_counts() == {"pending": 1}


async def test_issue13_limiter_slot_bounds_the_burst_after_a_stalled_loop():
    """30 sends were due over 1.5 s at 20/s but the loop stalled: when it runs again at most
    20 go at once; the rest wait until a second after those ended."""
    now = [0.0]
    entered: list[int] = []
    release = asyncio.Event()
    limiter = RateLimiter(20, 0.0, monotonic=lambda: now[0])
    real_sleep = asyncio.sleep

    async def stalled_sleep(seconds: float) -> None:  # time does not move while the loop is late
        await real_sleep(0)

    async def send(chat: int) -> None:
        async with limiter.slot(chat):
            entered.append(chat)
            await release.wait()

    async def spin() -> None:
        for _ in range(100):
            await real_sleep(0)

    asyncio.sleep = stalled_sleep  # type: ignore[assignment]
    try:
        tasks = [asyncio.create_task(send(chat)) for chat in range(30)]
        await spin()
        assert len(entered) == 20
        now[0] = 0.5
        release.set()
        await spin()
        assert len(entered) == 20  # ended at 0.5: they count until 1.5
        now[0] = 1.51
        await spin()
        assert len(entered) == 30
        await asyncio.gather(*tasks)
    finally:
        asyncio.sleep = real_sleep  # type: ignore[assignment]


# -- configuration --------------------------------------------------------------------------------
def _settings(tmp_path, **extra: str):
    from bot.config import load_settings

    return load_settings({"BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ", "DATABASE_PATH": str(tmp_path / "b.db"),
                          "SECRET_KEY": "0123456789abcdef0123", **extra}, dotenv=None)


def test_issue13_outbox_rate_defaults_and_limits(tmp_path):
    from bot.config import ConfigError

    s = _settings(tmp_path)
    assert (s.outbox_rate, s.outbox_paid_broadcast) == (25.0, False)
    assert _settings(tmp_path, OUTBOX_RATE="28.5").outbox_rate == 28.5
    paid = _settings(tmp_path, OUTBOX_RATE="1000", OUTBOX_PAID_BROADCAST="1")
    assert (paid.outbox_rate, paid.outbox_paid_broadcast) == (1000.0, True)
    for bad, variable, needle in (({"OUTBOX_RATE": "fast"}, "OUTBOX_RATE", "not a number"),
                                  ({"OUTBOX_RATE": "0"}, "OUTBOX_RATE", "more than 0"),
                                  ({"OUTBOX_RATE": "100"}, "OUTBOX_RATE", "OUTBOX_PAID_BROADCAST=1"),
                                  ({"OUTBOX_RATE": "1001", "OUTBOX_PAID_BROADCAST": "yes"}, "OUTBOX_RATE", "1000"),
                                  ({"OUTBOX_PAID_BROADCAST": "maybe"}, "OUTBOX_PAID_BROADCAST", "on or off")):
        with pytest.raises(ConfigError) as err:
            _settings(tmp_path, **bad)
        assert err.value.variable == variable and needle in str(err.value)


async def test_issue13_paid_broadcast_sends_carry_allow_paid_broadcast(store, clock, bot, session):
    box = Outbox(store, bot, clock, per_second=1000, chat_interval=0, paid_broadcast=True)
    await box.enqueue(text_push(100001, "x"), file_push(100002, "photo", b"img", "a.png"))
    await box.flush()
    calls = [c for c in session.calls if type(c).__name__ in ("SendMessage", "SendPhoto")]
    assert len(calls) == 2 and all(c.allow_paid_broadcast is True for c in calls)
