"""Issue 17, several processes, one truth, end to end: two `xuexi-bot run --webhook` processes with
SHARED_DATABASE=1 on one database, behind a small round-robin proxy (what nginx does in a deployment:
each delivery to the next process, a process that refuses the connection skipped), posted to by a
`--no-bot` sandbox.

- a registration whose updates alternate between the two processes completes, step by step;
- the leader (the lease holder: sweep and sender) is SIGKILLed: the other process leads within 30 s,
  and a second person registers through the survivor alone.

(SQLite with several processes is for this test only: a deployment uses PostgreSQL.)
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.e2e import test_registration as registration
from tests.e2e.test_webhook import SECRET, TOKEN, wait_for
from tests.support.sandbox_client import Sandbox, SandboxProcess, free_port

PATH = "/telegram/webhook"


class RoundRobin:
    """A reverse proxy on a free port: each POST to the next backend; one that refuses the connection
    is skipped (nginx's proxy_next_upstream error)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served = [0] * len(backends)
        self._next = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
                status, answer = proxy.forward(self.path, body, headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for _ in range(len(self.backends)):
            with self._lock:
                index = self._next
                self._next = (self._next + 1) % len(self.backends)
            req = urllib.request.Request(self.backends[index] + path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    self.served[index] += 1
                    return resp.status, resp.read()
            except urllib.error.HTTPError as err:
                self.served[index] += 1
                return err.code, err.read()
            except OSError:
                continue  # that process is down: the next one
        return 502, b"{}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SharedBot:
    """One of the bot processes: its own webhook port, the proxy's address as the public one."""

    def __init__(self, tmp_path: Path, name: str, sb: Sandbox, db: Path, public: str, port: int) -> None:
        self.log_path = tmp_path / f"bot-{name}.log"
        self.env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": sb.base, "DATABASE_PATH": str(db),
                    "SECRET_KEY": "webhook-secret-key-0123456789", "WEBHOOK_URL": public,
                    "WEBHOOK_PORT": str(port), "WEBHOOK_SECRET": SECRET, "SHARED_DATABASE": "1"}
        before = sb.get("/sandbox/stats")["calls"].get("setWebhook", 0)
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=tmp_path, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self.log_path.open("ab"))
        wait_for(lambda: sb.get("/sandbox/stats")["calls"].get("setWebhook", 0) > before or self.proc.poll() is not None,
                 "the bot never set its webhook")
        assert self.proc.poll() is None, self.log()[-3000:]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def leader_pid(db: Path) -> int | None:
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute("SELECT holder FROM leases WHERE name = 'leader'").fetchone()
    finally:
        conn.close()
    return None if row is None else int(row[0].split(":")[-2])


def test_two_processes_behind_a_proxy_share_one_truth(tmp_path):
    db = tmp_path / "bot.sqlite3"
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    sb = server.sandbox
    ports = [free_port(), free_port()]
    proxy = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    bots: list[SharedBot] = []
    try:
        bots = [SharedBot(tmp_path, name, sb, db, proxy.base, port) for name, port in zip("AB", ports, strict=True)]
        # -- a registration's updates alternate between the processes ---------------------------
        registration.test_reg_full_flow_and_main_menu(sb)
        assert min(proxy.served) >= 2, proxy.served  # both processes took part
        pids = {b.proc.pid: b for b in bots}
        leader = wait_for(lambda: leader_pid(db), "nobody leads")
        assert leader in pids
        # -- the leader is killed: the other leads within 30 s, and serves everybody alone --------
        killed_at = time.monotonic()
        pids[leader].kill()
        survivor = next(b for pid, b in pids.items() if pid != leader)
        wait_for(lambda: leader_pid(db) == survivor.proc.pid, "nobody took the lead over", timeout=35)
        assert time.monotonic() - killed_at <= 30
        registration.test_reg_full_flow_and_main_menu(sb)
        conn = sqlite3.connect(db, timeout=10)
        try:
            assert conn.execute("SELECT COUNT(*) FROM users WHERE phone IS NOT NULL").fetchone()[0] == 2
            # a row is marked done just after its reply went out, and one the killed leader had handled
            # but not yet marked is finished by the survivor once its hold lapses (20 s)
            wait_for(lambda: conn.execute("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL").fetchone()[0] == 0,
                     "stored updates left unhandled", timeout=30)
        finally:
            conn.close()
        # -- systemd's stop (SIGTERM) of the leader: it stops cleanly and hands the lead over at once ----
        dead = pids[leader]
        restarted = SharedBot(tmp_path, "A2", sb, db, proxy.base, ports[bots.index(dead)])
        bots[bots.index(dead)] = restarted
        stopped_at = time.monotonic()
        survivor.proc.send_signal(signal.SIGTERM)
        assert survivor.proc.wait(timeout=15) == 0, survivor.log()[-3000:]  # not killed by the signal
        assert "SIGTERM: stopping" in survivor.log()
        assert leader_pid(db) != survivor.proc.pid, "the stopped process still holds the lease"
        wait_for(lambda: leader_pid(db) == restarted.proc.pid, "nobody took the lead over", timeout=15)
        # at once: a killed holder's lease would still run for 10 s or more (renewed every 5 s, 15 s long)
        assert time.monotonic() - stopped_at < 10
        registration.test_reg_full_flow_and_main_menu(sb)  # the one left serves everybody
    finally:
        for b in bots:
            b.stop()
        proxy.close()
        server.stop()
