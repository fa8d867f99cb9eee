"""What the durable update inbox (bot/polling.py) costs the quiz: the answer presses of
bench/quiz_answers.py fed the way long polling feeds them, with and without the inbox.

    .venv/bin/python bench/quiz_inbox.py [--users 200] [--questions 60] [--runs 3]

Both ways take batches of 100 updates (getUpdates' most) in arrival order (users in turn) and run
each update as a task, at most 64 at once (App.run_polling's bound):
- direct: as aiogram's Dispatcher._polling does (Dispatcher.feed_update per task, nothing stored);
- inbox: DurablePolling.handle_batch: the batch stored in one committed insert first, each update
  marked done in a group commit after its handling.
Runs alternate (direct, inbox, direct, ...) so that the shared machine's drift touches both; printed:
updates/s of each run and the medians, and the cost as a fraction of the direct rate.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher

from bench.figures import record
from bench.quiz_answers import TOKEN, TZ, NullSession, as_json, plan, prepare, receive
from bot.app import build_dispatcher, settle_heap
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import I18n
from bot.polling import DurablePolling
from bot.store import Store

BATCH, CONCURRENCY = 100, 64


async def direct(dp: Dispatcher, bot: Bot, raws: list[dict]) -> float:
    slots = asyncio.Semaphore(CONCURRENCY)
    tasks: set[asyncio.Task] = set()

    async def one(raw: dict) -> None:
        try:
            await dp.feed_update(bot, receive(bot, raw))
        finally:
            slots.release()

    t0 = time.perf_counter()
    for start in range(0, len(raws), BATCH):
        for raw in raws[start:start + BATCH]:
            await slots.acquire()
            task = asyncio.create_task(one(raw))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    await asyncio.gather(*list(tasks))
    return len(raws) / (time.perf_counter() - t0)


async def inbox(poller: DurablePolling, bot: Bot, raws: list[dict]) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(raws), BATCH):
        await poller.handle_batch([receive(bot, raw) for raw in raws[start:start + BATCH]])
    await poller.drain()
    return len(raws) / (time.perf_counter() - t0)


async def main(users: int, questions: int, runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    settings = Settings(bot_token=TOKEN, database_path=folder / "bench.sqlite3", timezone=TZ,
                        operator_ids=frozenset(), secret_key=b"bench-secret-key-0123456789", data_dir=folder)
    store = await Store.open(settings.database_path)
    try:
        attempts = await prepare(store, users, questions)
        clock = Clock(TZ)
        dp = build_dispatcher(settings, store, clock, I18n())
        bot = Bot(TOKEN, session=NullSession())
        poller = DurablePolling(dp, bot, store, clock, concurrency=CONCURRENCY)
        settle_heap()
        warm = 2
        await direct(dp, bot, [u for g in zip(*as_json(plan(attempts, 0, warm))) for u in g])
        step = (questions - warm - 1) // (2 * runs)
        rates: dict[str, list[float]] = {"direct": [], "inbox": []}
        for r in range(2 * runs):
            way = "direct" if r % 2 == 0 else "inbox"
            raws = [u for g in zip(*as_json(plan(attempts, warm + r * step, step))) for u in g]
            # plan() numbers updates from 1 again on every call: each run gets ids of its own (the inbox
            # would rightly skip ids it has seen)
            raws = [{**raw, "update_id": raw["update_id"] + (r + 1) * 10 ** 9} for raw in raws]
            gc.freeze()
            rates[way].append(await (direct(dp, bot, raws) if way == "direct" else inbox(poller, bot, raws)))
        d, i = statistics.median(rates["direct"]), statistics.median(rates["inbox"])
        for way, rs in rates.items():
            print(f"{way:6}: {statistics.median(rs):7.0f} answer updates/s   (runs: {' / '.join(f'{x:.0f}' for x in rs)}, "
                  f"{users * step} updates each)")
        print(f"inbox cost: {(d - i) / d * 100:+.1f} % of the direct rate")
        record("quiz_inbox", "direct (feed_update)", round(d), "updates/s")
        record("quiz_inbox", "through the durable inbox", round(i), "updates/s")
        record("quiz_inbox", "inbox cost", round((d - i) / d * 100, 1), "%")
        stored = await store._one("SELECT COUNT(*), COUNT(done_at) FROM inbox")
        answered = await store._one("SELECT COUNT(*) FROM quiz_items WHERE answered_at IS NOT NULL")
        print(f"inbox rows {stored[0]}, done {stored[1]} (expected {users * step * runs}); "
              f"answers stored {answered[0]} (expected {users * (warm + 2 * runs * step)})")
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.questions, args.runs))
