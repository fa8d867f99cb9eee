"""The group commit's writes on SQLite three ways (bot/db/engine.py's choice): the answer path's two UPDATEs
per write, from 200 tasks at once, 20 rounds.

    .venv/bin/python bench/core_runner.py

- strings: a write in SQL strings on the sqlite3 connection (Store._write_batched), as before Core;
- core: the same write in SQLAlchemy Core on the sync Engine sharing aiosqlite's connection
  (Store._batched): the whole batch is one trip to aiosqlite's thread;
- aiosqlite: the same Core write through `sqlite+aiosqlite` (AsyncConnection.run_sync), the batch in one
  transaction as the store's: every statement is a trip to aiosqlite's thread.
Printed: writes/s and the process's CPU time per write, the median of 3 runs each.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.tables_orgs import users
from bot.repositories.base import nothing
from bot.store import Store

TASKS, ROUNDS = 200, 20
_MENU = update(users).where(users.c.id == bindparam("uid")).values(menu=bindparam("menu"))
_SEEN = update(users).where(users.c.id == bindparam("uid")).values(updated_at=bindparam("now"))


def core_write(user_id: int, n: int) -> Callable[[Connection], None]:
    def write(conn: Connection) -> None:
        conn.execute(_MENU, {"uid": user_id, "menu": f"m{n}"})
        conn.execute(_SEEN, {"uid": user_id, "now": f"t{n}"})
    return write


def string_write(user_id: int, n: int) -> Callable[[Any], None]:
    def write(conn: Any) -> None:
        conn.execute("UPDATE users SET menu = ? WHERE id = ?", (f"m{n}", user_id))
        conn.execute("UPDATE users SET updated_at = ? WHERE id = ?", (f"t{n}", user_id))
    return write


async def timed(one: Callable[[int, int], Awaitable[Any]]) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    for n in range(ROUNDS):
        await asyncio.gather(*(one(user_id, n) for user_id in range(1, TASKS + 1)))
    writes = TASKS * ROUNDS
    return writes / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / writes


async def main() -> None:
    path = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    store = await Store.open(path)
    async with store.raw_tx() as db:
        await db.executemany("INSERT INTO users (id, first_name, created_at, updated_at) VALUES (?, 'x', '', '')",
                             [(i,) for i in range(1, TASKS + 1)])
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", isolation_level="AUTOCOMMIT")
    aconn = await engine.connect()
    pending: list[tuple[Callable[[Connection], None], asyncio.Future[None]]] = []

    async def flush() -> None:
        batch = pending[:]
        pending.clear()
        await aconn.exec_driver_sql("BEGIN IMMEDIATE")
        for write, _future in batch:  # each write in a savepoint, as the store's group commit
            await aconn.exec_driver_sql("SAVEPOINT w")
            await aconn.run_sync(write)
            await aconn.exec_driver_sql("RELEASE w")
        await aconn.exec_driver_sql("COMMIT")
        for _write, future in batch:
            future.set_result(None)

    async def via_aiosqlite(user_id: int, n: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending.append((core_write(user_id, n), future))
        if len(pending) == 1:
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(flush()))
        await future

    ways: dict[str, Callable[[int, int], Awaitable[Any]]] = {
        "strings": lambda u, n: store._write_batched(string_write(u, n), nothing),
        "core": lambda u, n: store._batched(core_write(u, n), nothing),
        "aiosqlite": via_aiosqlite,
    }
    for name, one in ways.items():
        runs = [await timed(one) for _ in range(3)]
        rate, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{name:10} {rate:8.0f} writes/s   CPU {cpu:.3f} ms per write", flush=True)
    await aconn.close()
    await engine.dispose()
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
