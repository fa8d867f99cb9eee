"""Scale-out (issue 17): quiz answers/s on SQLite and PostgreSQL, and the nightly snapshot at a
province's size on PostgreSQL. Prints figures; not run by CI.

    .venv/bin/python -m bench.scale [--users 200] [--questions 60] [--members 1000000] [--orgs 20000]
                                    [--sqlite-members N] [--runs 3] [--skip-quiz] [--skip-snapshot]

PostgreSQL: a throwaway server started as the store tests do (tests/support/pg.py: Debian's server
programs, a temporary directory, a free loopback port, fsync off), or the server of XUEXI_PG_URL.
Without either, the PostgreSQL figures are recorded as not measured and the bench says why.

1. Quiz answers/s. Every user has an open daily attempt of --questions questions and answers it
   question by question (each press records the answer and shows the next question), all users at
   once, as bench/quiz_answers.py's sustained phase. Each configuration runs in worker processes of
   its own (`python -m bench.scale --worker`): each builds the bot's dispatcher on its own store
   connection and is fed its share of the users' callback updates with Dispatcher.feed_update, in
   process, so what is measured is the dispatcher, the middlewares, the quiz service and the store —
   not HTTP, nginx or the sandbox (the webhook and the durable inbox cost the same per update on
   either backend, and would need more cores than this machine has to stay out of the figure).
   Configurations: SQLite, 1 process; PostgreSQL, 1 process; PostgreSQL, 2 processes on one database,
   each fed half of the users (a person is only ever in one process, as the inbox's per-person order
   keeps it in production). The workers start each run together (a barrier over their pipes);
   answers/s = all answers of the run / (last worker's end - first worker's start). The median of
   --runs runs is printed with the ratios PG1/SQLite and PG2/PG1, and the CPU time each answer cost in
   the bot processes and in their PostgreSQL server processes (from /proc): with the answers/s, how
   many of the machine's cores the configuration kept busy (a second process only helps while a core
   is idle; on a 2-core machine shared with other work, it is not).

2. The nightly snapshot (REP-1, Store.snapshot_day: the real code path) of one day for --members
   members in --orgs organisations: a 5-level tree (province -> cities -> counties -> towns ->
   villages and units), members spread over every level, two branches per organisation, 1 % of the
   people listed a second time one level up (counted once), 90 % of the people registered (0.5 % of
   them on the day itself, so "new" has work), about 60 % of them with points on the day, a daily
   target on the province and its cities (REP-7's "reached"). Seeded with set-based SQL
   (generate_series on PostgreSQL, a recursive CTE on SQLite) and ANALYZEd; not timed. Then the
   snapshot is timed --runs times (median; target < 30 s on PostgreSQL), and the root's figures are
   checked. The same on SQLite (--sqlite-members, default: the same size) for comparison.

3. `xuexi-bot copy-to-postgresql` of that SQLite database (every row of it, the snapshot's rows too)
   into an empty PostgreSQL database: seconds and rows/s (bot/repositories/transfer.py).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import quick, record

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "1000000001:BENCH-token-for-local-use-only"
DAY = "2026-11-22"          # the day the snapshot computes
FIRST = "2026-08-01"        # when the tree and most listings began
WARM = 2                    # positions answered before the measured runs


# -- PostgreSQL ------------------------------------------------------------------------------------
class Postgres:
    """A server for the bench (started, or XUEXI_PG_URL's) and fresh databases on it."""

    def __init__(self) -> None:
        from tests.support import pg

        self.server: Any = None
        self.why: str | None = None
        if not os.environ.get("XUEXI_PG_URL") and pg.bin_dir() is None:
            self.why = "no PostgreSQL server programs (Debian: apt-get install postgresql) and no XUEXI_PG_URL"
            return
        try:
            self.server = pg.PgServer.start()
        except Exception as exc:  # noqa: BLE001 - the bench reports it and goes on with SQLite
            self.why = f"PostgreSQL could not be started: {exc}"

    async def database(self, name: str) -> str:
        return str(await self.server.new_database(name))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


# -- 1. quiz answers/s ---------------------------------------------------------------------------------
def settings_for(folder: Path) -> Any:
    from bot.config import Settings

    return Settings(bot_token=TOKEN, database_path=folder / "bench.sqlite3", timezone=TZ, operator_ids=frozenset(),
                    secret_key=b"bench-secret-key-0123456789", data_dir=folder)


async def prepare_quiz(database: str, users: int, questions: int, spec: Path) -> None:
    """Users with open attempts in `database`, written to `spec` for the workers."""
    from bench.quiz_answers import prepare
    from bot.store import Store

    store = await Store.open(database)
    try:
        attempts = await prepare(store, users, questions)
    finally:
        await store.close()
    await asyncio.to_thread(spec.write_text, json.dumps(attempts), encoding="utf-8")


async def worker(database: str, spec: Path, part: int, parts: int, runs: int, step: int) -> None:
    """One bot process: its share of the users; per run, waits for "go" on stdin, answers `step`
    questions per user, prints {"n", "t0", "t1"} (wall clock, comparable across processes)."""
    from aiogram import Bot

    from bench.quiz_answers import NullSession, as_json, plan, receive
    from bot.app import build_dispatcher, settle_heap
    from bot.clock import Clock
    from bot.i18n import I18n
    from bot.pg import is_url
    from bot.store import Store

    text = await asyncio.to_thread(spec.read_text, encoding="utf-8")
    attempts = [tuple(a) for a in json.loads(text)][part::parts]
    folder = Path(tempfile.mkdtemp(prefix="scale-worker-"))
    store = await Store.open(database)
    try:
        dp = build_dispatcher(settings_for(folder), store, Clock(TZ), I18n())
        bot = Bot(TOKEN, session=NullSession())
        settle_heap()

        async def feed(seq: list[dict]) -> None:
            for raw in seq:
                await dp.feed_update(bot, receive(bot, raw))

        await asyncio.gather(*(feed(s) for s in as_json(plan(attempts, 0, WARM))))  # warm-up, daily-login points
        backend = None  # this process's PostgreSQL server process, when it runs on this machine
        if is_url(database):
            row = await store._one("SELECT pg_backend_pid() AS pid")
            backend = Path(f"/proc/{row['pid']}/stat") if row else None
        for r in range(runs):
            raw = as_json(plan(attempts, WARM + r * step, step))
            gc.freeze()
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            cpu0, db0, t0 = time.process_time(), server_cpu(backend), time.time()
            await asyncio.gather(*(feed(s) for s in raw))
            t1, cpu1, db1 = time.time(), time.process_time(), server_cpu(backend)
            print(json.dumps({"n": sum(len(s) for s in raw), "t0": t0, "t1": t1, "cpu": cpu1 - cpu0,
                              "db_cpu": db1 - db0}), flush=True)
        answered = await store._one("SELECT COUNT(*) AS n FROM quiz_items WHERE answered_at IS NOT NULL")
        print(json.dumps({"answered": answered["n"] if answered else 0}), flush=True)
    finally:
        await store.close()


def server_cpu(stat: Path | None) -> float:
    """CPU seconds (user + system) of a local process from /proc (0 when unknown)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split() if stat else []
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def run_workers(database: str, spec: Path, parts: int, runs: int, step: int
                ) -> tuple[list[float], int, tuple[float, float]]:
    """(answers/s of each run, answers stored as the last worker saw them, CPU ms per answer in the bot
    processes and in their database server processes)."""
    cmd = [sys.executable, "-m", "bench.scale", "--worker", "--database", database, "--spec", str(spec),
           "--parts", str(parts), "--runs", str(runs), "--step", str(step)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BENCH_FIGURES", None)  # the parent records
    procs = [subprocess.Popen([*cmd, "--part", str(k)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for k in range(parts)]

    def line(p: subprocess.Popen[str]) -> str:
        assert p.stdout is not None
        text = p.stdout.readline()
        if not text:
            raise RuntimeError(f"a worker exited ({p.wait()}) before it was done")
        return text.strip()

    rates, answered, n, cpu, db_cpu = [], 0, 0, 0.0, 0.0
    try:
        for _ in range(runs):
            for p in procs:
                assert line(p) == "ready"
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            done = [json.loads(line(p)) for p in procs]
            rates.append(sum(d["n"] for d in done) / (max(d["t1"] for d in done) - min(d["t0"] for d in done)))
            n += sum(d["n"] for d in done)
            cpu += sum(d["cpu"] for d in done)
            db_cpu += sum(d["db_cpu"] for d in done)
        answered = max(int(json.loads(line(p))["answered"]) for p in procs)
        for p in procs:
            if p.wait(timeout=60) != 0:
                raise RuntimeError(f"a worker exited with {p.returncode}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return rates, answered, (cpu * 1000 / max(n, 1), db_cpu * 1000 / max(n, 1))


@dataclass
class QuizFigure:
    label: str
    rates: list[float]
    ok: bool
    cpu_ms: tuple[float, float]  # per answer: the bot processes, the database server processes

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


async def quiz(pg: Postgres, users: int, questions: int, runs: int) -> list[QuizFigure]:
    step = (questions - WARM) // runs
    expected = users * (WARM + runs * step)
    out = []
    with tempfile.TemporaryDirectory(prefix="scale-quiz-") as tmp:
        configs: list[tuple[str, str | None, int]] = [("SQLite, 1 process", str(Path(tmp) / "quiz.sqlite3"), 1)]
        if pg.server is not None:
            configs += [("PostgreSQL, 1 process", "scale_quiz_1", 1), ("PostgreSQL, 2 processes", "scale_quiz_2", 2)]
        for label, target, parts in configs:
            assert target is not None
            database = target if label.startswith("SQLite") else await pg.database(target)
            spec = Path(tmp) / f"{parts}-{label[:3]}.json"
            await prepare_quiz(database, users, questions, spec)
            rates, answered, cpu_ms = await asyncio.to_thread(run_workers, database, spec, parts, runs, step)
            fig = QuizFigure(label, rates, answered == expected, cpu_ms)
            out.append(fig)
            print(f"quiz answers, {label:<24} {fig.median:8.0f} answers/s   (median of {runs} runs of "
                  f"{users * step:,} answers: {' / '.join(f'{r:.0f}' for r in rates)}; "
                  f"{answered:,}/{expected:,} stored)", flush=True)
            busy = (cpu_ms[0] + cpu_ms[1]) * fig.median / 1000
            print(f"    CPU per answer: bot {cpu_ms[0]:.2f} ms"
                  + (f", PostgreSQL server {cpu_ms[1]:.2f} ms" if cpu_ms[1] else " (SQLite's thread included)")
                  + f"; at the median rate that is {busy:.2f} of the machine's {os.cpu_count()} cores busy", flush=True)
    return out


# -- 2. the nightly snapshot -------------------------------------------------------------------------
def levels(orgs: int) -> list[int]:
    """Organisations per level: 1 province, cities, counties, towns, then villages and units."""
    cities = max(2, round(orgs * 0.00075))
    counties = max(4, round(orgs * 0.015))
    towns = max(8, round(orgs * 0.15))
    return [1, cities, counties, towns, orgs - 1 - cities - counties - towns]


def seed_statements(members: int, orgs: int, postgres: bool) -> list[str]:
    """Set-based SQL (SQLite's dialect, which bot/dialect.py translates) writing the tree, its closure,
    branches, members, users, the membership history and the points of three days."""

    def seq(n: int) -> str:  # the rows i = 1..n
        if postgres:
            return f"(SELECT i FROM generate_series(1, {n}) AS g(i)) AS s"
        return f"(WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) SELECT i FROM c) AS s"

    now = FIRST + "T09:00:00+08:00"
    out = [(f"INSERT INTO users (id, first_name, name, sort_key, registered_at, created_at, updated_at) "
           f"VALUES (1, 'op', '省管理员', 'sheng', '{now}', '{now}', '{now}')")]
    first, previous = 1, None
    for count in levels(orgs):
        parent = "NULL" if previous is None else f"{previous[0]} + (s.i - 1) % {previous[1]}"
        out.append(f"INSERT INTO orgs (id, name, sort_key, region, parent_id, certified_at, created_by, created_at) "
                   f"SELECT {first - 1} + s.i, '组织' || ({first - 1} + s.i), 'zuzhi' || ({first - 1} + s.i), '某省', "
                   f"{parent}, '{now}', 1, '{now}' FROM {seq(count)}")
        previous, first = (first, count), first + count
    out += [
        "DELETE FROM org_tree",
        """INSERT INTO org_tree (ancestor_id, descendant_id, depth)
           WITH RECURSIVE up(ancestor_id, descendant_id, depth) AS (
               SELECT id, id, 0 FROM orgs
               UNION ALL
               SELECT o.parent_id, up.descendant_id, up.depth + 1 FROM up JOIN orgs o ON o.id = up.ancestor_id
               WHERE o.parent_id IS NOT NULL)
           SELECT ancestor_id, descendant_id, depth FROM up""",
        (f"INSERT INTO branches (id, org_id, name, sort_key, created_at) "
        f"SELECT 2 * s.i - 1, s.i, '第一支部', 'di yi zhi bu', '{now}' FROM {seq(orgs)} "
        f"UNION ALL SELECT 2 * s.i, s.i, '第二支部', 'di er zhi bu', '{now}' FROM {seq(orgs)}"),
        # member i in organisation 1 + i % orgs, branch by parity; phone +86 139 0000 0000 + i
        (f"INSERT INTO members (id, org_id, branch_id, name, sort_key, phone, activated_at, created_at, updated_at) "
        f"SELECT s.i, 1 + s.i % {orgs}, 2 * (1 + s.i % {orgs}) - s.i % 2, '成员' || s.i, 'chengyuan' || s.i, "
        f"'+86' || (13900000000 + s.i), '{FIRST}', '{now}', '{now}' FROM {seq(members)}"),
        # 1 % listed a second time one level up (counted once in the subtree of both)
        (f"INSERT INTO members (id, org_id, branch_id, name, sort_key, phone, created_at, updated_at) "
        f"SELECT {members} + m.id, o.parent_id, NULL, m.name, m.sort_key, m.phone, '{now}', '{now}' "
        f"FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id % 100 = 0 AND o.parent_id IS NOT NULL"),
        # 90 % registered (0.5 % on the day itself: "new"), user id 1000 + i
        (f"INSERT INTO users (id, first_name, phone, name, sort_key, registered_at, created_at, updated_at) "
        f"SELECT 1000 + s.i, 'u', '+86' || (13900000000 + s.i), '成员' || s.i, 'chengyuan' || s.i, "
        f"CASE WHEN s.i % 200 = 7 THEN '{DAY}T10:00:00+08:00' ELSE '{now}' END, '{now}', '{now}' "
        f"FROM {seq(members)} WHERE s.i % 10 <> 3"),
        "DELETE FROM member_history",
        # every listing from FIRST, 0.3 % of them from the day itself, 0.2 % ended before it
        (f"INSERT INTO member_history (id, org_id, branch_id, phone, start_day, end_day) "
        f"SELECT id, org_id, branch_id, phone, CASE WHEN id % 1000 < 3 THEN '{DAY}' ELSE '{FIRST}' END, "
        f"CASE WHEN id % 1000 BETWEEN 501 AND 502 THEN '2026-10-01' END FROM members"),
        # about 60 % of the registered score on each of three days (the day and the two before it)
        """INSERT INTO points_daily (user_id, day, amount)
           SELECT u.id, d.day, 1 + (u.id * 7 + d.n * 13) % 40
           FROM users u CROSS JOIN (SELECT 1 AS n, '2026-11-20' AS day UNION ALL SELECT 2, '2026-11-21'
                                    UNION ALL SELECT 3, '2026-11-22') AS d
           WHERE u.id >= 1000 AND (u.id * 31 + d.n * 17) % 100 < 60""",
        "INSERT INTO points_totals (user_id, total) SELECT user_id, SUM(amount) FROM points_daily GROUP BY user_id",
        # REP-7: a daily target on the province and its cities
        (f"INSERT INTO report_settings (org_id, enabled, daily_target, updated_at) "
        f"SELECT id, 1, 20, '{now}' FROM orgs WHERE id <= {1 + levels(orgs)[1]}"),
    ]
    if postgres:  # the identities go on after the ids written here
        out += [f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
                for t in ("orgs", "branches", "members", "member_history")]
    return out


async def snapshot(database: str, members: int, orgs: int, runs: int, label: str) -> list[float] | None:
    from bot.store import Store

    store = await Store.open(database)
    postgres = not database.endswith(".sqlite3")
    try:
        t0 = time.perf_counter()
        async with store.raw_tx() as db:
            for statement in seed_statements(members, orgs, postgres):
                await db.execute(statement)
        await store._db.execute("ANALYZE")
        people = (await store._one("SELECT COUNT(*) AS n FROM members"))["n"]
        points = (await store._one("SELECT COUNT(*) AS n FROM points_daily WHERE day = ?", (DAY,)))["n"]
        print(f"{label}: seeded {orgs:,} organisations in {len(levels(orgs))} levels {levels(orgs)}, {people:,} "
              f"listings of {members:,} people, {points:,} people with points on {DAY} "
              f"in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            await store.snapshot_day(DAY, DAY + "T23:59:00+08:00")
            times.append(time.perf_counter() - t0)
        [root] = await store.org_days(1, DAY, DAY)
        ended = members // 1000 * 2  # the listings that ended before the day (id % 1000 in 501, 502)
        days = (await store._one("SELECT COUNT(*) AS n FROM org_daily WHERE day = ?", (DAY,)))["n"]
        # REP-7's "reached" counted again the plain way (each phone once), for the province and a city
        plain = """SELECT COUNT(DISTINCT h.phone) AS n FROM org_tree t JOIN member_history h ON h.org_id = t.descendant_id
                   JOIN users u ON u.phone = h.phone JOIN points_daily pd ON pd.user_id = u.id AND pd.day = ?
                   WHERE t.ancestor_id = ? AND h.start_day <= ? AND (h.end_day IS NULL OR h.end_day > ?)
                   AND pd.amount >= 20"""
        reached = {org: (await store._one(plain, (DAY, org, DAY, DAY)))["n"] for org in (1, 2)}
        [city] = await store.org_days(2, DAY, DAY)
        ok = (root.total == members - ended and days == orgs and root.new > 0
              and (root.reached, city.reached) == (reached[1], reached[2]))
        print(f"  root on {DAY}: total {root.total:,}, new {root.new:,}, active {root.active:,}, reached "
              f"{root.reached:,} (counted plainly: {reached[1]:,}; a city: {city.reached:,}/{reached[2]:,}), per-capita "
              f"{root.per_capita:.2f}; {days:,} organisations' rows "
              f"{'OK' if ok else 'WRONG'}", flush=True)
        if not ok:
            return None
        return times
    finally:
        await store.close()


async def copy(source: Path, url: str, members: int, orgs: int) -> bool:
    """`xuexi-bot copy-to-postgresql` of the SQLite database the snapshot ran on (its rows, the day's
    figures included) into an empty PostgreSQL database: rows/s."""
    from bot.repositories.transfer import copy_rows
    from bot.store import Store

    await (await Store.open(url)).close()
    copied = await copy_rows(source, url)
    rate = copied.rows / copied.seconds
    big = ", ".join(f"{t} {n:,}" for t, n in sorted(copied.tables.items(), key=lambda kv: -kv[1])[:4])
    print(f"copy-to-postgresql of that SQLite database: {copied.rows:,} rows ({big}, ...) in "
          f"{copied.seconds:.1f} s = {rate:,.0f} rows/s", flush=True)
    record("scale", f"copy-to-postgresql, {members:,} members in {orgs:,} organisations", round(copied.seconds, 1),
           "s", f"{copied.rows:,} rows, {rate:,.0f} rows/s")
    return True


# -- main ------------------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> int:
    load = "load average {:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    print(f"{os.cpu_count()} cores, {load} at the start", flush=True)
    pg = await asyncio.to_thread(Postgres)
    if pg.why:
        print(f"PostgreSQL figures not measured: {pg.why}", flush=True)
    ok = True
    try:
        if not args.skip_quiz:
            figs = await quiz(pg, args.users, args.questions, args.runs)
            by = {f.label: f for f in figs}
            for f in figs:
                ok &= f.ok
                record("scale", f"quiz answers/s, {f.label}", round(f.median), "answers/s",
                       f"median of {args.runs}: {' / '.join(f'{r:.0f}' for r in f.rates)}; CPU per answer "
                       f"{f.cpu_ms[0]:.2f} ms bot" + (f" + {f.cpu_ms[1]:.2f} ms PostgreSQL server" if f.cpu_ms[1]
                                                      else " (SQLite in process)"))
            sq, p1, p2 = (by.get(k) for k in ("SQLite, 1 process", "PostgreSQL, 1 process", "PostgreSQL, 2 processes"))
            if p1 and p2 and sq:
                print(f"ratios: PG 1 process / SQLite {p1.median / sq.median:.2f}   "
                      f"PG 2 processes / PG 1 process {p2.median / p1.median:.2f}", flush=True)
                record("scale", "ratio PG 1 process / SQLite", round(p1.median / sq.median, 2), "×")
                record("scale", "ratio PG 2 processes / PG 1 process", round(p2.median / p1.median, 2), "×")
            else:
                for name in ("PostgreSQL, 1 process", "PostgreSQL, 2 processes"):
                    record("scale", f"quiz answers/s, {name}", None, "answers/s", pg.why or "")
            record("scale", "quiz answers stored", int(all(f.ok for f in figs)), "ok")
        if not args.skip_snapshot:
            name = f"nightly snapshot, {args.members:,} members in {args.orgs:,} organisations"
            if pg.server is not None:
                times = await snapshot(await pg.database("scale_snapshot"), args.members, args.orgs, args.runs,
                                       "PostgreSQL")
                ok &= times is not None
                if times:
                    m = statistics.median(times)
                    print(f"nightly snapshot on PostgreSQL: median {m:.2f} s   ({' / '.join(f'{t:.2f}' for t in times)})"
                          f"   {'OK' if m < 30 else 'OVER'} (< 30 s)", flush=True)
                    ok &= m < 30
                    record("scale", f"{name}, PostgreSQL", round(m, 2), "s", f"median of {len(times)}; max {max(times):.2f} s")
            else:
                record("scale", f"{name}, PostgreSQL", None, "s", pg.why or "")
            if args.sqlite_members:
                with tempfile.TemporaryDirectory(prefix="scale-snap-") as tmp:
                    times = await snapshot(str(Path(tmp) / "snap.sqlite3"), args.sqlite_members, args.orgs,
                                           args.runs, "SQLite")
                    if pg.server is not None and times:
                        ok &= await copy(Path(tmp) / "snap.sqlite3", await pg.database("scale_copy"),
                                         args.sqlite_members, args.orgs)
                ok &= times is not None
                if times:
                    m = statistics.median(times)
                    print(f"nightly snapshot on SQLite ({args.sqlite_members:,} members): median {m:.2f} s   "
                          f"({' / '.join(f'{t:.2f}' for t in times)})", flush=True)
                    record("scale", f"nightly snapshot, {args.sqlite_members:,} members in {args.orgs:,} "
                                    "organisations, SQLite", round(m, 2), "s", f"median of {len(times)}")
    finally:
        pg.stop()
        load = "load average {:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
        print(f"{load} at the end", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60 if quick() else 200)
    parser.add_argument("--questions", type=int, default=20 if quick() else 60)
    parser.add_argument("--members", type=int, default=50_000 if quick() else 1_000_000)
    parser.add_argument("--orgs", type=int, default=1_000 if quick() else 20_000)
    parser.add_argument("--sqlite-members", type=int, default=None, help="0: no SQLite snapshot (default: --members)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-quiz", action="store_true")
    parser.add_argument("--skip-snapshot", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--step", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.database, args.spec, args.part, args.parts, args.runs, args.step))
        raise SystemExit(0)
    if args.sqlite_members is None:
        args.sqlite_members = args.members
    raise SystemExit(asyncio.run(main(args)))
