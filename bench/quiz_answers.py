"""Quiz-answer callbacks through Dispatcher.feed_update with the real store (a file database).

    .venv/bin/python bench/quiz_answers.py [--users 200] [--questions 60] [--rate 300] [--database URL]

--database postgresql://user@host:port/db runs it on that (empty, or already migrated) PostgreSQL
database instead of a new SQLite file (issue 17; the bench's rows are left there).

1. Sustained: every user answers their open daily attempt question by question (each press records
   the answer and shows the next question, re-rendering the pressed message only); all users at once.
   Printed: updates/s, the median of three runs (the shared machine's speed drifts within seconds).
2. Paced at --rate updates/s (open loop, users in turn): latency p50/p99 of each update.
3. Whole daily rounds: a fresh 5-question round answered and submitted by every user at once
   (grading, notebook, ledger, review messages): rounds/s.
4. The ceiling: the same callback updates to a trivial handler (no store, no I/O), as in
   bench/sandbox_roundtrip.py; and the app floor: the bot's own middlewares (actor loaded from the
   store, FSM storage, callback answers) before a trivial handler. Printed with the ratios of (1).
The bot's session does no I/O (like bench/sandbox_roundtrip.py's ceiling), so what is measured is the
dispatcher, the middlewares, the quiz service and the store.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.types import CallbackQuery, Chat, Message, Update, User

from bench.figures import record
from bot.app import build_dispatcher, settle_heap
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import I18n
from bot.services.quiz import LETTERS
from bot.store import Store
from bot.ui.quiz import QuizCD
from tests.support.factories import make_user
from tests.support.quiz_factories import make_question

TOKEN = "1000000001:BENCH-token-for-local-use-only"
TZ = ZoneInfo("Asia/Shanghai")
BASE = 600000


class NullSession(AiohttpSession):
    async def make_request(self, bot, method, timeout=None):  # type: ignore[override]
        return True


def press(uid: int, n: int, data: str) -> Update:
    now = datetime.now(UTC)
    user = User(id=uid, is_bot=False, first_name="u", language_code="zh")
    msg = Message(message_id=1, date=now, chat=Chat(id=uid, type="private"), text="…")
    return Update(update_id=n, callback_query=CallbackQuery(id=f"q{n}", from_user=user, chat_instance="ci",
                                                            message=msg, data=data))


async def prepare(store: Store, users: int, questions: int) -> list[tuple[int, int, list[int]]]:
    """Users with an open attempt of `questions` questions each: (user, attempt, option per position)."""
    qids = [await make_question(store, "single", f"题{i}", answer=("ABCD"[i % 4],)) for i in range(questions)]
    out = []
    now = datetime.now(TZ).isoformat()
    for i in range(users):
        uid = BASE + i
        await make_user(store, uid, f"u{i}")
        order = qids[i % questions:] + qids[:i % questions]
        aid = await store.create_attempt(uid, "daily", now[:10], order, now)
        out.append((uid, aid, [LETTERS.index("ABCD"[(qids.index(q)) % 4]) for q in order]))
    return out


def plan(attempts, start: int, count: int) -> list[list[Update]]:
    """Per user, the presses for positions start .. start+count-1 (answering and moving on)."""
    n = 0
    out = []
    for uid, aid, options in attempts:
        seq = []
        for pos in range(start, start + count):
            n += 1
            seq.append(press(uid, uid * 1000 + n, QuizCD(a="o", t=aid, p=pos, o=options[pos]).pack()))
        out.append(seq)
    return out


def as_json(per_user: list[list[Update]]) -> list[list[dict]]:
    """The updates as Telegram sends them (JSON objects), made before the clock starts."""
    return [[u.model_dump(mode="json", exclude_none=True) for u in seq] for seq in per_user]


def receive(bot: Bot, raw: dict) -> Update:
    """What long polling does with each update it gets: parse it with the bot in its context. Counted
    in every figure. (feed_update given an update built without that context would parse it a second
    time on every call, a cost real traffic never pays.)"""
    return Update.model_validate(raw, context={"bot": bot})


async def sustained(dp: Dispatcher, bot: Bot, per_user: list[list[Update]]) -> float:
    raw_per_user = as_json(per_user)
    gc.freeze()  # the harness's own inputs are not the bot's heap

    async def worker(seq: list[dict]) -> None:
        for raw in seq:
            await dp.feed_update(bot, receive(bot, raw))

    total = sum(len(s) for s in raw_per_user)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in raw_per_user))
    return total / (time.perf_counter() - t0)


async def paced(dp: Dispatcher, bot: Bot, per_user: list[list[Update]], rate: float) -> list[float]:
    order = [u for group in zip(*as_json(per_user)) for u in group]  # users in turn
    gc.freeze()
    latencies: list[float] = []

    async def one(raw: dict) -> None:
        t = time.perf_counter()
        await dp.feed_update(bot, receive(bot, raw))
        latencies.append(time.perf_counter() - t)

    tasks = []
    t0 = time.perf_counter()
    for i, raw in enumerate(order):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(raw)))
    await asyncio.gather(*tasks)
    return sorted(latencies)


async def whole_rounds(dp: Dispatcher, bot: Bot, store: Store, users: list[int]) -> tuple[float, float]:
    """Each user's open attempt ends; a fresh daily round of DAILY_SIZE questions is answered and
    submitted (grading, the wrong-answer notebook, the points ledger, the review messages), all
    users at once. Returns (rounds/s, updates/s)."""
    from bot.services.quiz import DAILY_SIZE

    now = datetime.now(TZ).isoformat()
    per_user, n = [], 10 ** 7
    for uid in users:
        head = await store.open_attempt(uid, "daily")
        if head is not None:
            await store.expire_attempt(head.id)
        qids = await store.draw_for_user(uid, None, DAILY_SIZE)
        aid = await store.create_attempt(uid, "daily", now[:10], qids, now)
        seq = []
        for pos in range(len(qids)):
            n += 1
            seq.append(press(uid, n, QuizCD(a="o", t=aid, p=pos, o=pos % 4).pack()))
        n += 1
        seq.append(press(uid, n, QuizCD(a="s", t=aid, p=len(qids) - 1).pack()))
        per_user.append(seq)
    rate = await sustained(dp, bot, per_user)
    per_round = len(per_user[0])
    return rate / per_round, rate


async def ceiling(per_user: list[list[Update]]) -> float:
    router = Router()

    @router.callback_query()
    async def trivial(query: CallbackQuery) -> None:
        return None

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot(TOKEN, session=NullSession())
    return await sustained(dp, bot, per_user)


async def app_floor(settings: Settings, store: Store, per_user: list[list[Update]]) -> float:
    from aiogram.fsm.storage.memory import SimpleEventIsolation

    from bot.fsm_storage import StoreStorage
    from bot.middlewares import ActorMiddleware, AnswerCallbacks

    router = Router()

    @router.callback_query()
    async def trivial(query: CallbackQuery) -> None:
        return None

    dp = Dispatcher(storage=StoreStorage(store), events_isolation=SimpleEventIsolation(), settings=settings,
                    store=store, clock=Clock(TZ), i18n=I18n())
    dp.update.outer_middleware(ActorMiddleware())
    dp.callback_query.middleware(AnswerCallbacks())
    dp.include_router(router)
    return await sustained(dp, Bot(TOKEN, session=NullSession()), per_user)


async def main(users: int, questions: int, rate: float, database: str | None = None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="quiz-bench-"))
    settings = Settings(bot_token=TOKEN, database_path=folder / "bench.sqlite3", timezone=TZ,
                        operator_ids=frozenset(), secret_key=b"bench-secret-key-0123456789", data_dir=folder)
    store = await Store.open(database or settings.database_path)
    try:
        attempts = await prepare(store, users, questions)
        dp = build_dispatcher(settings, store, Clock(TZ), I18n())
        bot = Bot(TOKEN, session=NullSession())
        settle_heap()  # as App.run_polling does before the first update
        warm, seq_users, blocks = 2, 20, 3
        await sustained(dp, bot, plan(attempts, 0, warm))  # warm-up (also pays the daily-login points)
        part = (questions - warm - 1) // 2 // blocks * blocks  # positions answered in the sustained phase
        step = part // blocks
        one_by_one = [[u for group in zip(*plan(attempts[:seq_users], warm, part)) for u in group]]
        seq_rate = await sustained(dp, bot, one_by_one)
        print(f"sequential, one update at a time: {seq_rate:8.0f} answer updates/s   ({len(one_by_one[0])} updates)")
        # the machine is shared and its speed drifts within seconds: each figure is the median of `blocks` runs
        rates = [await sustained(dp, bot, plan(attempts[seq_users:], warm + b * step, step)) for b in range(blocks)]
        rate_all = statistics.median(rates)
        record("quiz_answers", "sequential, one at a time", round(seq_rate), "updates/s")
        record("quiz_answers", "sustained, all users at once", round(rate_all), "updates/s")
        print(f"sustained, {users - seq_users} users at once: {rate_all:8.0f} answer updates/s   "
              f"(median of {blocks} runs of {(users - seq_users) * step} updates: "
              f"{' / '.join(f'{r:.0f}' for r in rates)})")
        lat = await paced(dp, bot, plan(attempts, warm + part, questions - warm - part - 1), rate)
        p50, p99 = statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000
        print(f"paced at {rate:.0f} updates/s: latency p50 {p50:.2f} ms, p99 {p99:.2f} ms   ({len(lat)} updates)")
        record("quiz_answers", f"latency p99 at {rate:.0f} updates/s", round(p99, 2), "ms", f"p50 {p50:.2f} ms")
        tops = [await ceiling(plan(attempts, 0, step)) for _ in range(blocks)]
        floors = [await app_floor(settings, store, plan(attempts, 0, step)) for _ in range(blocks)]
        top, floor = statistics.median(tops), statistics.median(floors)
        record("quiz_answers", "ceiling: trivial callback handler", round(top), "updates/s")
        record("quiz_answers", "app floor: bot middlewares + trivial handler", round(floor), "updates/s")
        print(f"ceiling, trivial callback handler:            {top:8.0f} updates/s   "
              f"ratio quiz/ceiling {rate_all / top:.2f} (sequential {seq_rate / top:.2f})   "
              f"(runs: {' / '.join(f'{r:.0f}' for r in tops)})")
        print(f"app floor, bot middlewares + trivial handler: {floor:8.0f} updates/s   "
              f"ratio quiz/floor {rate_all / floor:.2f}   (runs: {' / '.join(f'{r:.0f}' for r in floors)})")
        answered = await store._one("SELECT COUNT(*) AS n FROM quiz_items WHERE answered_at IS NOT NULL")
        expected = users * (questions - 1)
        rounds, round_updates = await whole_rounds(dp, bot, store, [uid for uid, _a, _o in attempts])
        print(f"whole daily rounds (5 answers + submit), {users} users at once: {rounds:6.0f} rounds/s "
              f"({round_updates:.0f} updates/s)")
        submitted = await store._one("SELECT COUNT(*) AS n FROM quiz_attempts WHERE status = 'submitted'")
        record("quiz_answers", "whole daily rounds (5 answers + submit)", round(round_updates), "updates/s",
               f"{rounds:.0f} rounds/s")
        record("quiz_answers", "answers and rounds stored", int(answered["n"] == expected and submitted["n"] == users),
               "ok", f"{answered['n']}/{expected} answers, {submitted['n']}/{users} rounds")
        print(json.dumps({"python": sys.version.split()[0], "answers_stored": answered["n"],
                          "expected": expected, "rounds_submitted": submitted["n"], "expected_rounds": users}))
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL instead of a new SQLite file")
    args = parser.parse_args()
    asyncio.run(main(args.users, args.questions, args.rate, args.database))
