"""Connections that heal, end to end: two `xuexi-bot run --webhook` processes on one PostgreSQL database,
behind a small round-robin proxy (tests/e2e/test_multiprocess.RoundRobin) posted to by a `--no-bot`
sandbox; members do the daily quiz as chat clients (tests/support/load.py's driver) and, in the middle
of the rush, PostgreSQL is restarted as an operator would (`pg_ctl -m fast stop`, a few seconds down,
start). The daily report's 08:00 slot falls due (by the bots' clock) while the server is down.

- while it is down both processes answer /healthz 503 saying "database unavailable" (and the webhook
  503, which the sandbox, as Telegram, delivers again later); after it, 200 again;
- every member finishes the round (an update that met the outage at the door is delivered again; one
  whose handling met it got the apology, and the member presses again): each answer counted once (one round per member, 5 answers, the 5
  points once), every stored update handled;
- the report reaches each recipient once (the lease is taken again, the sweep and the sender resume);
- neither process restarted, and each logged the outage in one line and its end in one more.

Runs where PostgreSQL's server programs are installed and XUEXI_PG asks for PostgreSQL (auto or 1); the
server is one of its own (it is stopped and started), so not with XUEXI_PG_URL.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta

import aiohttp
import pytest

from tests.e2e.test_multiprocess import RoundRobin
from tests.e2e.test_scaleout import BotProcess, daily_rounds, reports_in_chat, sql, wait_for
from tests.support import invariants, load
from tests.support import pg as pgsupport
from tests.support.sandbox_client import SandboxProcess, free_port

MEMBERS = 20
RECIPIENTS = 5  # the root's daily report goes to the first five members
SPREAD = 8.0  # seconds over which the members' /quiz starts are spread
THINK = 0.5  # seconds between a reply and the member's next press
DOWN = 3.0  # seconds PostgreSQL stays stopped
TO_SLOT = 45.0  # seconds from the bots' start to 08:00 by their clock: after the outage, with room for a slow start
INTO_RUSH = 3.0  # seconds into the rush at which PostgreSQL is stopped


@pytest.fixture(scope="module")
def pg_server():
    if not pgsupport.wanted() or pgsupport.why_not() is not None:
        pytest.skip(f"PostgreSQL not asked for or not installed ({pgsupport.why_not()})")
    if os.environ.get("XUEXI_PG_URL"):
        pytest.skip("XUEXI_PG_URL's server is not this test's to stop and start")
    server = pgsupport.PgServer.start()
    yield server
    server.stop()


class Health:
    """Polls /healthz of each process in a thread: (status, problems) seen while the server was down,
    and the latest answer."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.down = False
        self.seen_down: dict[int, list[tuple[int, list[str]]]] = {p: [] for p in ports}
        self.latest: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def ask(self, port: int) -> tuple[int, list[str]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                return resp.status, json.loads(resp.read())["problems"]
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)["problems"]
            except ValueError:
                return err.code, [body.decode(errors="replace")[:200]]
        except OSError as exc:
            return 0, [str(exc)]

    def _run(self) -> None:
        while not self._stop.is_set():
            for port in self.ports:
                status, problems = self.ask(port)
                self.latest[port] = status
                if self.down:
                    self.seen_down[port].append((status, problems))
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


async def member(d: load.Driver, uid: int, delay: float) -> None:
    """One member's daily quiz; a /quiz whose question does not come (its handling met the outage and
    the member got the apology) is sent again, as a person would."""
    await asyncio.sleep(delay)
    for _attempt in range(4):
        mid = await d.send(uid, "/quiz")
        try:
            msg = await d.wait_message(uid, mid, f"第 1/{load.DAILY} 题", timeout=12)
            break
        except RuntimeError:
            continue
    else:
        raise RuntimeError(f"user {uid}: /quiz never showed the first question")
    for n in range(1, load.DAILY + 1):
        await asyncio.sleep(THINK)
        right = re.search(r"答案是 ([A-D])", msg["text"])
        assert right is not None, msg["text"]
        shows = f"第 {n + 1}/{load.DAILY} 题" if n < load.DAILY else "已是最后一题"
        msg = await d.press(uid, msg, right.group(1), shows, tries=12)
    await asyncio.sleep(THINK)
    await d.press(uid, msg, "交卷", "已交卷", tries=12)


async def rush(base: str, day: date, restart) -> load.Result:
    """Every member does the daily quiz; `restart()` runs in a thread INTO_RUSH seconds in."""
    plan = load.Plan(members=MEMBERS, recipients=RECIPIENTS, spread=SPREAD, think=THINK, chat_limit=None)
    result = load.Result(plan, day)
    ids = load.member_ids(plan)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=120)) as http:
        d = load.Driver(http, base, result)
        mid = await d.send(load.ADMIN, "/start")
        await d.wait_message(load.ADMIN, mid, "", timeout=30)  # both processes answer
        tasks = [asyncio.create_task(member(d, uid, SPREAD * i / len(ids))) for i, uid in enumerate(ids)]
        restarting = asyncio.create_task(asyncio.to_thread(restart))
        done, pending = await asyncio.wait(tasks, timeout=70)
        await restarting
        for task in pending:
            task.cancel()
        failures = [t.exception() for t in done if t.exception() is not None]
        assert not pending and not failures, f"{len(pending)} members unfinished; failures: {failures[:3]}"
    return result


def test_two_webhook_processes_survive_a_postgresql_restart_in_a_quiz_rush(pg_server, tmp_path):
    url = asyncio.run(pg_server.new_database(f"xuexi_restart_{os.getpid()}"))
    day = asyncio.run(load.seed(url, load.Plan(members=MEMBERS, recipients=RECIPIENTS)))  # type: ignore[arg-type]
    server = SandboxProcess(tmp_path / "sandbox.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    ports, metrics = [free_port(), free_port()], [free_port(), free_port()]
    proxy = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    bots = [BotProcess(tmp_path, name, sb, url, proxy.base, port) for name, port in zip("AB", ports, strict=True)]
    health: Health | None = None
    t0 = time.monotonic()
    try:
        sb.post("/sandbox/users", {"id": load.ADMIN, "first_name": "负载管理员", "language_code": "zh"})
        for uid in load.member_ids(load.Plan(members=MEMBERS)):
            sb.post("/sandbox/users", {"id": uid, "first_name": f"学员{uid - load.FIRST_MEMBER:04d}",
                                       "language_code": "zh", "phone": load.phone(uid)})
        slot = datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=load.TZ)
        offset = sb.post("/sandbox/clock", {"set": (slot - timedelta(seconds=TO_SLOT)).isoformat()})["offset_seconds"]
        started = time.monotonic()
        for bot, port in zip(bots, metrics, strict=True):
            bot.env["METRICS_PORT"] = str(port)
            bot.start(offset)
        for bot in bots:
            wait_for(bot.serving, f"bot {bot.name} never served its webhook")
        health = Health(metrics)
        wait_for(lambda: all(health.latest.get(p) == 200 for p in metrics), "/healthz never answered 200")
        outage: dict[str, float] = {}

        def restart() -> None:
            time.sleep(INTO_RUSH)
            assert health is not None
            health.down = True
            outage["stopped"] = time.monotonic() - started
            pg_server.pause("fast")
            time.sleep(DOWN)
            pg_server.resume()
            outage["started"] = time.monotonic() - started
            health.down = False

        ready = time.monotonic() - started
        result = asyncio.run(rush(sb.base, day, restart))
        print(f"\nbots ready {ready:.1f} s after their start; PostgreSQL down from {outage['stopped']:.1f} s to "
              f"{outage['started']:.1f} s; 08:00 at {TO_SLOT:g} s{'' if outage['stopped'] < TO_SLOT else ' (BEFORE the outage: a slow start)'}; "
              f"{result.updates} member updates, {result.retries} presses repeated")
        # /healthz: 503 with the reason while down, 200 again after
        for port in metrics:
            seen = health.seen_down[port]
            assert any(status == 503 and "database unavailable" in problems for status, problems in seen), seen
            assert all(status != 500 for status, _problems in seen), seen
        # the webhook's updates that came meanwhile were answered 503, and delivered again (Telegram's view)
        with urllib.request.urlopen(f"{sb.base}/bot{load.SANDBOX_TOKEN}/getWebhookInfo", timeout=10) as resp:
            info = json.loads(resp.read())["result"]
        assert " 503 " in info.get("last_error_message", "") + " ", info
        wait_for(lambda: all(health.latest.get(p) == 200 for p in metrics), "/healthz never answered 200 again",
                 timeout=20)
        # every answer counted once, every stored update handled
        wait_for(lambda: sql(url, "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL")[0][0] == 0,
                 "stored updates left unhandled")
        rounds = daily_rounds(url)
        ids = load.member_ids(load.Plan(members=MEMBERS))
        assert rounds == dict.fromkeys(ids, (1, "submitted", load.DAILY, load.DAILY))
        # the report: once to each recipient, to nobody else
        recipients = ids[:RECIPIENTS]
        wait_for(lambda: all(reports_in_chat(sb, uid) >= 1 for uid in recipients), "the daily report never arrived")
        wait_for(lambda: sql(url, "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')")[0][0] == 0,
                 "pushes left unsent")
        time.sleep(1.0)
        assert [reports_in_chat(sb, uid) for uid in ids] == [1] * RECIPIENTS + [0] * (MEMBERS - RECIPIENTS)
        invariants.check(url).assert_ok()
        for bot in bots:  # alive all along; the outage said once, and its end once
            assert bot.proc is not None and bot.proc.poll() is None
            log = bot.log()
            assert log.count("database unavailable (") == 1 and log.count("database reachable again") == 1, log[-3000:]
        print(f"served by the processes: {proxy.served}; {time.monotonic() - t0:.1f} s in all")
    finally:
        if health is not None:
            health.stop()
        for bot in bots:
            bot.stop()
        proxy.close()
        server.stop()
