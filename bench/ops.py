"""The README's production install walked on a fresh clone, with the sandbox standing in for Telegram.

    .venv/bin/python bench/ops.py [--keep-prefix]

Into a temporary prefix laid out as README "Installing for production" says (opt/xuexi-bot/src, a venv
beside it, var/lib/xuexi-bot for the data, var/backups/xuexi-bot): a `git clone` of this repository's
HEAD, `python3 -m venv` and `pip install` of the clone without extras (no test tools may come with it),
an environment holding only what /etc/xuexi-bot.env would (an absolute DATABASE_PATH; no PYTHONPATH, the
working directory outside the clone). Then, against `xuexi-bot sandbox --no-bot`: `load-starter-bank`,
`run`, `/help` telling the first user their id (no OPERATOR_IDS yet), a second `run` refused with one
line, a backup into a folder beside the running bot and a restore refused, owner-only files, SIGTERM and
status 0; then the upgrade: a new schema migration committed in the clone, `pip install` again, the
start logging the migration, and the older version (this checkout) refusing the newer schema with one
line. Prints each step's time; exits 1 at the first check that fails. Not run by CI: the two `pip
install`s take minutes (tests/unit/test_operations.py checks the same behaviour in-process).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db.migrations import head, revisions
from tests.support.sandbox_client import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "1000000001:SANDBOX-token-for-local-use-only"
PROBE_REVISION = "9001"
PROBE = f'''"""the upgrade bench/ops.py makes"""
import sqlalchemy as sa
from alembic import op

revision = "{PROBE_REVISION}"
down_revision = "{head()}"


def upgrade() -> None:
    op.create_table("ops_walk_probe", sa.Column("id", sa.Integer(), primary_key=True))
'''


class Walk:
    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.src = prefix / "opt" / "xuexi-bot" / "src"
        self.venv = prefix / "opt" / "xuexi-bot" / "venv"
        self.data = prefix / "var" / "lib" / "xuexi-bot"
        self.backups = prefix / "var" / "backups" / "xuexi-bot"
        self.database = self.data / "xuexi.sqlite3"
        self.started = time.monotonic()
        self.bots: list[subprocess.Popen[bytes]] = []  # ended, whatever happens, when the walk ends

    def step(self, what: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {what}", flush=True)

    def env(self, sandbox: str) -> dict[str, str]:
        """What /etc/xuexi-bot.env holds (and nothing of this checkout's)."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.data), "LANG": "C.UTF-8",
                "BOT_TOKEN": TOKEN, "DATABASE_PATH": str(self.database), "TIMEZONE": "Asia/Shanghai",
                "TELEGRAM_API_URL": sandbox}

    def command(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "xuexi-bot"), *args], cwd=self.data, env=env,
                              capture_output=True, text=True, timeout=300)

    def install(self) -> float:
        began = time.monotonic()
        subprocess.run([str(self.venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        str(self.src)], check=True)
        return time.monotonic() - began


def check(ok: bool, what: str, detail: str = "") -> None:
    if not ok:
        print(f"FAILED: {what}\n{detail[-3000:]}", flush=True)
        raise SystemExit(1)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    check(len(lines) == 1, "one line on stderr", result.stderr)
    return lines[0]


def start_bot(walk: Walk, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    before = log.read_text(errors="replace").count("bot @") if log.exists() else 0
    proc = subprocess.Popen([str(walk.venv / "bin" / "xuexi-bot"), "run"], cwd=walk.data, env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    walk.bots.append(proc)
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count("bot @") == before:  # this start's line
        check(proc.poll() is None, "the bot started", log.read_text(errors="replace"))
        check(time.monotonic() < deadline, "the bot said it started within 60 s", log.read_text(errors="replace"))
        time.sleep(0.2)
    return proc


def stop_bot(walk: Walk, proc: subprocess.Popen[bytes], log: Path) -> float:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    status = proc.wait(timeout=30)
    took = time.monotonic() - began
    check(status == 0, f"SIGTERM ends the bot with status 0 (got {status})", log.read_text(errors="replace"))
    walk.step(f"SIGTERM: the bot exited with status 0 in {took:.2f} s")
    return took


def first_hour(walk: Walk, sandbox: SandboxProcess, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    loaded = walk.command(env, "load-starter-bank")
    check(loaded.returncode == 0 and "67 questions added" in loaded.stdout, "load-starter-bank", loaded.stderr)
    check(len(re.findall(r"migrating the schema from revision", loaded.stderr)) == len(revisions()),
          "the database created, one log line per revision", loaded.stderr)
    walk.step(f"{loaded.stdout.strip()}; the database created, {len(revisions())} revisions logged")
    bot = start_bot(walk, env, log)
    walk.step("xuexi-bot run: started")
    owner = sandbox.sandbox.user("运维", language_code="en")
    owner.send("/help")
    try:
        answer = owner.expect("Your Telegram id is", timeout=120)
    except AssertionError as exc:
        check(False, f"/help answered: {exc}", log.read_text(errors="replace"))
    check(str(owner.id) in answer["text"], "/help tells the first user their id", answer["text"])
    walk.step(f"/help tells the first user their id ({owner.id})")
    return bot


def beside_the_running_bot(walk: Walk, env: dict[str, str]) -> None:
    second = walk.command(env, "run")
    check(second.returncode == 1 and "one bot per SQLite file" in one_line(second), "a second run refused", second.stderr)
    walk.step(f"a second run refused: {one_line(second)[:110]}…")
    backup = walk.command(env, "backup", f"{walk.backups}/", "--keep", "3")
    check(backup.returncode == 0, "a backup beside the running bot", backup.stderr)
    walk.step(backup.stdout.strip())
    taken = next(walk.backups.iterdir())
    restore = walk.command(env, "restore", str(taken))
    check(restore.returncode == 1 and "in use by another process" in one_line(restore), "restore refused",
          restore.stderr)
    walk.step("restore refused while the bot runs")
    private = [walk.database, walk.data / "secret.key", taken, Path(f"{walk.database}-wal")]
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in private}
    check(set(modes.values()) == {"0o600"}, "owner-only files", str(modes))
    walk.step(f"owner-only: {modes}")


def upgrade(walk: Walk, sandbox: SandboxProcess, env: dict[str, str], log: Path) -> None:
    (walk.src / "bot" / "db" / "migrations" / "versions" / f"r{PROBE_REVISION}_probe.py").write_text(PROBE)
    subprocess.run(["git", "-C", str(walk.src), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(walk.src), "commit", "-qam", "a newer schema"], check=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "ops", "GIT_AUTHOR_EMAIL": "ops@localhost",
                        "GIT_COMMITTER_NAME": "ops", "GIT_COMMITTER_EMAIL": "ops@localhost"})
    backup = walk.command(env, "backup", f"{walk.backups}/", "--keep", "3")
    check(backup.returncode == 0, "the backup before the upgrade", backup.stderr)
    walk.step(f"upgrade: backed up, a revision {PROBE_REVISION} committed, pip install again "
              f"({walk.install():.1f} s)")
    bot = start_bot(walk, env, log)
    line = f"migrating the schema from revision {head()} to {PROBE_REVISION} (of {PROBE_REVISION})"
    check(line in log.read_text(), "the upgrade's migration logged", log.read_text()[-2000:])
    walk.step(f"the new version started: '{line}'")
    user = sandbox.sandbox.user("升级后")
    user.send("/help")
    user.expect("/start", timeout=120)
    stop_bot(walk, bot, log)
    older = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=walk.data, capture_output=True, text=True,
                           env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    check(older.returncode == 1 and f"newer than this bot's {head()}" in one_line(older),
          "the older version refuses the newer schema", older.stderr)
    walk.step(f"the older version refuses: {one_line(older)[:120]}…")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep-prefix", action="store_true", help="leave the temporary prefix for a look")
    args = parser.parse_args()
    prefix = Path(tempfile.mkdtemp(prefix="xuexi-ops-"))
    walk = Walk(prefix)
    sandbox = None
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(walk.src)], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(walk.venv)], check=True)
        walk.step(f"cloned and a venv made; pip install of the clone without extras: {walk.install():.1f} s")
        tools = subprocess.run([str(walk.venv / "bin" / "python"), "-c", "import pytest"], capture_output=True)
        check(tools.returncode != 0, "no test tools installed")
        sandbox = SandboxProcess(prefix / "sandbox.sqlite3", args=["--no-bot"])
        env = walk.env(sandbox.sandbox.base)
        walk.data.mkdir(parents=True, mode=0o700)
        log = prefix / "bot.log"
        bot = first_hour(walk, sandbox, env, log)
        beside_the_running_bot(walk, env)
        stop_bot(walk, bot, log)
        upgrade(walk, sandbox, env, log)
        walk.step("the walk passed")
    finally:
        for bot in walk.bots:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
        if sandbox is not None:
            sandbox.stop()
        if args.keep_prefix:
            print(f"the prefix: {prefix}")
        else:
            shutil.rmtree(prefix, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
