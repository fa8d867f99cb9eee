"""Issue 17, several processes, one truth: two bot "processes" (two Store instances, caches off, on one
database file, each with its own dispatcher and inbox) coordinate through the database only.

- the leader lease: one holder at a time; a holder that stops renewing (killed) is replaced within
  30 s by the injected clock; a stopping holder releases it at once; only the holder sweeps;
- the outbox: only the lease holder sends, so two senders over 1,000 pushes keep the bot's rate as a
  whole (the sandbox's Telegram counts a 429 for any excess) and deliver each push once, also across
  a hand-over mid-way;
- the inbox: one person's updates, stored alternately by either process, are handled one at a time,
  in update order, each once; a killed process's unfinished rows are adopted by the other; the FSM
  state is read fresh per update (a registration's steps alternately delivered to either process).
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message, Update, User
from aiohttp.test_utils import TestServer

from bot.app import build_dispatcher
from bot.clock import FakeClock
from bot.config import Settings
from bot.i18n import I18n
from bot.leases import LEADER, Lease
from bot.outbox import Outbox, text_push
from bot.polling import InboxTurns
from bot.repositories.due import DueItem
from bot.sandbox.server import build_sandbox_app
from bot.scheduler import Sweeper
from bot.store import Store
from bot.webhook import WebhookInbox
from tests.support.recording import _FEEDING, NOW, ChatClient, RecordingSession

pytestmark = pytest.mark.loose_pushes  # the sender itself, fed directly

TOKEN = "1000000001:SANDBOX-multiprocess-tests"


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[tuple[Store, Store]]:
    a = await Store.open(settings.database_path, cache_size=0)
    b = await Store.open(settings.database_path, cache_size=0)
    yield a, b
    await a.close()
    await b.close()


class Ticks:
    """A monotonic clock the test moves (the lease's own idea of how long ago it renewed)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- the leader lease -------------------------------------------------------------------------------
def test_caches_are_off_with_cache_size_0(stores):
    a, _ = stores
    assert a.caching is False


async def test_one_holder_at_a_time_and_a_killed_holder_is_replaced_within_30_s(stores, clock):
    ticks = Ticks()
    a = Lease(stores[0], clock, holder="A", monotonic=ticks)
    b = Lease(stores[1], clock, holder="B", monotonic=ticks)
    assert await a.try_take() and a.held
    assert not await b.try_take() and not b.held
    assert await stores[1].lease_holder(LEADER, clock.now()) == "A"
    ticks.now += 5
    clock.advance(seconds=5)
    assert await a.try_take()  # renewed
    assert not await b.try_take()
    # A is killed: it renews no more. B tries every 5 s and leads within 30 s of A's last renewal
    waited = 0
    while not await b.try_take():
        ticks.now += b.renew_every
        clock.advance(seconds=b.renew_every)
        waited += b.renew_every
        assert waited <= 30, "nobody took over within 30 s"
    assert waited > 0 and b.held
    assert await stores[0].lease_holder(LEADER, clock.now()) == "B"
    # A stopped considering itself the leader before B could take over
    assert not a.held
    # A comes back: B holds the lease, so A does not get it
    assert not await a.try_take() and not a.held


async def test_a_stopping_holder_releases_the_lease_at_once(stores, clock):
    changes: list[bool] = []
    a = Lease(stores[0], clock, holder="A", renew_every=0.01, ttl=15, on_change=changes.append)
    b = Lease(stores[1], clock, holder="B")
    running = asyncio.create_task(a.run())
    await a.gained.wait()
    assert not await b.try_take()
    running.cancel()
    await asyncio.wait({running})
    assert not a.held and changes == [True, False]
    assert await b.try_take()  # no waiting for the expiry


async def test_only_the_lease_holder_sweeps(stores, clock):
    ran: list[tuple[str, str]] = []

    def handler(name: str) -> Callable[[DueItem, Any], Awaitable[None]]:
        async def run(item: DueItem, _now: Any) -> None:
            ran.append((name, item.ref))
            await asyncio.sleep(0)
        return run

    leases = [Lease(s, clock, holder=name) for s, name in zip(stores, "AB", strict=True)]
    sweepers = []
    for store, lease, name in zip(stores, leases, "AB", strict=True):
        sweeper = Sweeper(store, clock, leader=lambda lease=lease: lease.held)
        sweeper.register("job", handler(name))
        sweepers.append(sweeper)
    for n in range(5):
        await stores[0].put_due_now("job", f"r{n}", clock.now() - timedelta(minutes=1))
    await leases[1].try_take()  # B leads
    await leases[0].try_take()
    done = await asyncio.gather(*(s.sweep() for s in sweepers))
    assert done == [0, 5]
    assert sorted(ran) == [("B", f"r{n}") for n in range(5)]  # each once, by the leader


# -- the outbox across processes --------------------------------------------------------------------
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


async def sandbox_bot(server: TestServer) -> Bot:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(str(server.make_url("")).rstrip("/"))),
              default=DefaultBotProperties(parse_mode="HTML"))
    await bot.get_me()
    return bot


async def sent_reach(store: Store, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (await store.push_counts()).get("sent", 0) < count:
        assert time.monotonic() < deadline, f"fewer than {count} pushes sent"
        await asyncio.sleep(0.02)


async def test_two_senders_keep_the_bots_rate_as_a_whole_and_send_each_push_once(stores, settings, server, http):
    rate, people, each = 250.0, 100, 10  # 1,000 pushes at 250/s: at least 4 s
    async with http.post("/sandbox/faults", json={"rate_limit": {"global_per_s": rate * 1.2,
                                                                 "per_chat_per_s": 1000}}) as r:
        assert r.status == 200
    ids = []
    for i in range(people):
        async with http.post("/sandbox/users", json={"first_name": f"u{i}"}) as r:
            ids.append((await r.json())["id"])
    clock = FakeClock(settings.timezone)
    bots = [await sandbox_bot(server) for _ in stores]
    leases = [Lease(s, clock, holder=name, ttl=2.0, renew_every=0.05) for s, name in zip(stores, "AB", strict=True)]
    boxes = []
    for store, bot, lease in zip(stores, bots, leases, strict=True):
        box = Outbox(store, bot, clock, per_second=rate, chat_interval=0.001,
                     leader=lambda lease=lease: lease.held, idle_poll=0.05)
        lease.on_change = lambda held, box=box: box.wake() if held else None
        boxes.append(box)
    await boxes[0].enqueue(*[text_push(uid, f"第{n}条") for n in range(each) for uid in ids])
    started = time.monotonic()
    tasks = [asyncio.create_task(lease.run()) for lease in leases]
    tasks += [asyncio.create_task(box.run()) for box in boxes]
    try:
        await asyncio.wait([asyncio.ensure_future(lease.gained.wait()) for lease in leases],
                           return_when=asyncio.FIRST_COMPLETED, timeout=5)
        first = next(i for i, lease in enumerate(leases) if lease.held)
        # mid-way the leader stops (its lease task ends and releases the lease): the other goes on
        await sent_reach(stores[0], 400)
        tasks[first].cancel()
        other = leases[1 - first]
        await asyncio.wait_for(other.gained.wait(), 5)
        await sent_reach(stores[0], people * each)
        elapsed = time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for bot in bots:
            await bot.session.close()
    async with http.get("/sandbox/stats") as r:
        stats = await r.json()
    assert elapsed >= (people * each - 1) / rate
    assert stats["rate_limited"] == 0  # the two together never went above the rate
    assert await stores[1].push_counts() == {"sent": people * each}
    for uid in ids:  # each push once, each chat's in order
        async with http.get(f"/sandbox/users/{uid}/messages") as r:
            texts = [m["text"] for m in (await r.json())["messages"] if m["from"] == "bot"]
        assert texts == [f"第{n}条" for n in range(each)]


async def test_a_push_another_process_enqueues_wakes_the_leaders_sender_at_its_commit(database, backend, clock):
    """On PostgreSQL the leader's sender is woken by NOTIFY when the other process's transaction commits
    (its poll here is a minute): not before the commit, and a rolled-back push wakes nobody into
    sending anything. On SQLite there is no such signal: the sender polls."""
    leader_store, other_store = await Store.open(database, cache_size=0), await Store.open(database, cache_size=0)
    session = RecordingSession()
    bot = Bot(TOKEN, session=session)
    poll = 60.0 if backend == "pg" else 0.05
    leader = Outbox(leader_store, bot, clock, per_second=1000, chat_interval=0, leader=lambda: True, idle_poll=poll)
    other = Outbox(other_store, bot, clock, per_second=1000, chat_interval=0, leader=lambda: False, idle_poll=poll)
    sending = asyncio.create_task(leader.run())

    def texts() -> list[str]:
        return [c.text for c in session.calls if isinstance(c, SendMessage)]

    try:
        if backend == "pg":
            await asyncio.wait_for(leader.listening.wait(), 10)
        else:
            assert await leader_store.listen("outbox", leader.wake) is False
        with pytest.raises(RuntimeError):
            async with other_store.atomic():
                await other.enqueue(text_push(4001, "撤回的通知"))
                raise RuntimeError("the action failed")
        async with other_store.atomic():
            await other.enqueue(text_push(4001, "另一个进程的通知"))
            await asyncio.sleep(0.3)  # the leader cannot see it yet: not committed
            assert texts() == []
        deadline = time.monotonic() + 10  # well inside the leader's minute-long poll on PostgreSQL
        while texts() != ["另一个进程的通知"]:
            assert time.monotonic() < deadline, texts()
            await asyncio.sleep(0.02)
        # the call is recorded before the sender marks the row sent: wait for that commit too
        while (counts := await leader_store.push_counts()) != {"sent": 1}:
            assert time.monotonic() < deadline and set(counts) <= {"sending", "sent"}, counts
            await asyncio.sleep(0.02)
        assert texts() == ["另一个进程的通知"]  # sent once
    finally:
        sending.cancel()
        await asyncio.wait([sending])
        await leader_store.close()
        await other_store.close()


async def test_what_a_killed_leader_had_claimed_goes_again_once_its_claim_is_stale(stores, settings, server, http):
    async with http.post("/sandbox/users", json={"first_name": "u"}) as r:
        uid = (await r.json())["id"]
    clock = FakeClock(settings.timezone)
    await stores[0].enqueue_pushes([text_push(uid, "遗留")], clock.now().isoformat())
    assert len((await stores[0].claim_pushes(clock.now().isoformat())).pushes) == 1  # A claimed it, then died
    bot = await sandbox_bot(server)
    ticks = Ticks()
    try:
        box = Outbox(stores[1], bot, clock, chat_interval=0.001, leader=lambda: True, monotonic=ticks)
        assert await box.flush() == 0  # a claim this young may be a live sender's: left alone
        clock.advance(seconds=121)
        ticks.now += 31
        assert await box.flush() == 1
    finally:
        await bot.session.close()
    async with http.get(f"/sandbox/users/{uid}/messages") as r:
        assert [m["text"] for m in (await r.json())["messages"] if m["from"] == "bot"] == ["遗留"]


async def test_a_claim_never_takes_a_row_another_sender_claimed(stores, clock):
    a, b = stores
    await a.enqueue_pushes([text_push(700000 + n, "x") for n in range(10)], clock.now().isoformat())
    first = await a.claim_pushes(clock.now().isoformat(), limit=6)
    second = await b.claim_pushes(clock.now().isoformat(), limit=100)
    assert len(first.pushes) == 6 and len(second.pushes) == 4
    assert not {p.id for p in first.pushes} & {p.id for p in second.pushes}


# -- one person's updates in turn --------------------------------------------------------------------
@dataclass
class Process:
    store: Store
    dp: Any
    bot: Bot
    inbox: WebhookInbox
    name: str
    handled: list[tuple[str, int, str]] = field(default_factory=list)


def make_process(name: str, store: Store, settings: Settings, clock: FakeClock, session: RecordingSession,
                 log: list[tuple[str, int, str]], *, hold: float = 20.0) -> Process:
    bot = Bot(settings.bot_token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    outbox = Outbox(store, bot, clock, per_second=1000, chat_interval=0)
    dp = build_dispatcher(settings, store, clock, I18n(), outbox=outbox)

    async def record(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        log.append((name, event.update_id, "in"))
        await asyncio.sleep(0.01)  # another process's update of this person would slip in here
        try:
            return await handler(event, data)
        finally:
            log.append((name, event.update_id, "out"))

    dp.update.outer_middleware(record)
    turns = InboxTurns(store, clock, name, hold=hold, poll=0.005)
    return Process(store, dp, bot, WebhookInbox(dp, bot, store, clock, turns=turns), name)


def text_update(update_id: int, user_id: int, text: str) -> Update:
    user = User(id=user_id, is_bot=False, first_name="张伟", language_code="zh")
    return Update(update_id=update_id, message=Message(message_id=update_id, date=NOW, from_user=user, text=text,
                                                       chat=Chat(id=user_id, type="private")))


def done_rows(path: Any) -> list[tuple[int, bool]]:
    db = sqlite3.connect(path)
    try:
        return [(uid, done is not None) for uid, done in db.execute("SELECT update_id, done_at FROM inbox "
                                                                     "ORDER BY update_id")]
    finally:
        db.close()


async def test_one_persons_updates_received_by_either_process_are_handled_one_at_a_time_in_order(
        stores, settings, clock, session):
    log: list[tuple[str, int, str]] = []
    a, b = (make_process(n, s, settings, clock, session, log) for n, s in zip("AB", stores, strict=True))
    person, other = 300001, 300002
    updates = [text_update(1000 + n, person, f"第{n}句") for n in range(8)]
    # they arrive in quick succession, alternately at A and B (a load balancer), the other person's
    # among them; each is handled after its 200 (the next arrives while the ones before are in flight)
    for n, u in enumerate(updates):
        await (a if n % 2 == 0 else b).inbox.accept(u)
        if n == 3:
            await b.inbox.accept(text_update(2000, other, "别人"))
    await asyncio.gather(a.inbox.drain(), b.inbox.drain())
    mine = [(who, uid, edge) for who, uid, edge in log if uid < 2000]
    # one at a time (each "in" followed by its own "out"), in update order, each once
    assert [(uid, edge) for _who, uid, edge in mine] == [(u.update_id, e) for u in updates for e in ("in", "out")]
    assert {who for who, uid, _ in mine if uid % 2 == 0} == {"A"} and {who for who, uid, _ in mine if uid % 2} == {"B"}
    assert [uid for _w, uid, edge in log if edge == "in"].count(2000) == 1
    assert done_rows(settings.database_path) == [(u.update_id, True) for u in updates] + [(2000, True)]


async def test_a_killed_process_rows_are_adopted_by_the_other_and_handled_in_order(stores, settings, clock, session):
    log: list[tuple[str, int, str]] = []
    a = make_process("A", stores[0], settings, clock, session, log, hold=20.0)
    b = make_process("B", stores[1], settings, clock, session, log, hold=20.0)
    person = 300003
    # A stored two of the person's updates and died before handling them (its tasks never ran)
    for u in (text_update(3001, person, "一"), text_update(3002, person, "二")):
        await stores[0].accept_held_updates([(u.update_id, u.model_dump_json(exclude_unset=True, by_alias=True))],
                                            clock.now(), a.inbox._turns.hold([u]))  # type: ignore[union-attr]
    # B got the next one: it waits for the earlier two, which nobody handles while A's hold lasts
    await b.inbox.accept(text_update(3003, person, "三"))
    await asyncio.sleep(0.1)
    assert [e for e in log if e[2] == "in"] == []
    assert await b.inbox.adopt() == 0  # A's holds have not expired yet
    clock.advance(seconds=21)  # A renewed nothing for longer than its hold
    assert await b.inbox.adopt() == 2
    await b.inbox.drain()
    assert [(who, uid) for who, uid, edge in log if edge == "in"] == [("B", 3001), ("B", 3002), ("B", 3003)]
    assert done_rows(settings.database_path) == [(3001, True), (3002, True), (3003, True)]


class TwoProcessClient(ChatClient):
    """A person whose updates reach process A and process B alternately (through their inboxes)."""

    inboxes: tuple[WebhookInbox, WebhookInbox] = ()  # type: ignore[assignment]
    fed: int = 0

    async def _feed(self, **update: Any) -> Any:
        from tests.support.recording import Sent

        before = len(self.session.calls)
        uid = next(self._ids) + self.user_id * 1000
        token = _FEEDING.set(uid)
        try:
            inbox = self.inboxes[self.fed % 2]
            self.fed += 1
            assert await inbox.accept(Update(update_id=uid, **update))
            await inbox.drain()
        finally:
            _FEEDING.reset(token)
        calls = self.session.calls[before:]
        fed_by = self.session.fed_by[before:]
        return Sent([c for c, by in zip(calls, fed_by, strict=True) if by == uid], self.session)


async def test_a_registration_whose_steps_alternate_between_processes_completes(stores, settings, clock, session):
    log: list[tuple[str, int, str]] = []
    a, b = (make_process(n, s, settings, clock, session, log) for n, s in zip("AB", stores, strict=True))
    client = TwoProcessClient(dp=a.dp, bot=a.bot, session=session, user_id=100001, first_name="张伟")
    client.inboxes = (a.inbox, b.inbox)
    agreement = await client.start()
    await client.press(agreement, "✅ 同意并继续")
    await client.contact("8613800000001")
    ask = await client.send("张伟")
    assert "第 3 步" in ask.text
    await client.press(ask, "跳过 ⏭")
    user = await stores[1].get_user(100001)
    assert user is not None and user.name == "张伟" and user.phone == "+8613800000001"
    steps = [who for who, _uid, edge in log if edge == "in"]
    assert steps == ["A", "B", "A", "B", "A"]  # each step at the other process than the one before


# -- the switches and what the metrics say -----------------------------------------------------------
def test_shared_database_is_an_operator_switch(tmp_path):
    from bot.config import ConfigError, load_settings

    base = {"DATABASE_PATH": str(tmp_path / "x.sqlite3"), "SECRET_KEY": "k" * 16}
    assert load_settings(base, require_token=False, dotenv=None).shared_database is False
    assert load_settings({**base, "SHARED_DATABASE": "1"}, require_token=False, dotenv=None).shared_database
    with pytest.raises(ConfigError, match="SHARED_DATABASE"):
        load_settings({**base, "SHARED_DATABASE": "maybe"}, require_token=False, dotenv=None)


async def test_healthz_and_metrics_say_whether_this_process_leads(stores, clock):
    from prometheus_client import CollectorRegistry

    from bot.metrics import Metrics

    single = Metrics(CollectorRegistry(), stores[0], clock)
    assert (await single.refresh())["leader"] is None  # one process: always sweeps and sends
    assert b"xuexi_leader 1.0" in await single.scrape()
    metrics = Metrics(CollectorRegistry(), stores[0], clock)
    lease = Lease(stores[0], clock, holder="A", on_change=metrics.lease_changed)
    metrics.lease_changed(False)
    assert (await metrics.refresh())["leader"] is False and b"xuexi_leader 0.0" in await metrics.scrape()
    await lease.try_take()
    assert (await metrics.refresh())["leader"] is True and b"xuexi_leader 1.0" in await metrics.scrape()
