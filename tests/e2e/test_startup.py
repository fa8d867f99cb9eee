"""Starting `xuexi-bot run` as an operator's supervisor does (README "Real Telegram"): a start that cannot
go on ends the process with one line on stderr and a non-zero status (so that systemd's Restart= acts);
a Telegram that cannot be reached at start is tried again with back-off, said in the log, until it
answers; a token Telegram refuses (401) is one line. Telegram is tests/support/fake_telegram.py.

The process tests start `python -m bot run` itself (the store's thread is what kept a failed start
alive); the other failures are checked through `bot.cli.main` in this process, which is faster.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from tests.support.fake_telegram import FakeTelegram, free_port
from tests.support.sandbox_client import ROOT

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123"
START = 180.0  # seconds a process may take to import and open (the 2-core CI machine, shared)
SETTINGS = ("BOT_TOKEN", "DATABASE_PATH", "DATABASE_URL", "TELEGRAM_API_URL", "METRICS_PORT", "METRICS_HOST",
            "SECRET_KEY", "SHARED_DATABASE", "WEBHOOK_URL", "WEBHOOK_PORT", "WEBHOOK_SECRET", "LOG_LEVEL")


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "BOT_TOKEN": TOKEN,
            "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), "SECRET_KEY": "startup-test-secret-0123", **extra}


def start_bot(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=bot_env(tmp_path, **extra),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    return proc, log


def wait_for_line(proc: subprocess.Popen[bytes], log: Path, needle: str, count: int = 1,
                  timeout: float = START) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count(needle) >= count:
            return
        assert proc.poll() is None, f"the bot ended ({proc.returncode}) before {needle!r}:\n{log.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"no {needle!r} within {timeout} s:\n{log.read_text()}")


def finish(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def test_a_revoked_token_ends_the_process_with_one_line(tmp_path):
    with FakeTelegram(refuse=True) as telegram:
        proc, log = start_bot(tmp_path, TELEGRAM_API_URL=telegram.url)
        status = finish(proc, START)
    err = log.read_text()
    assert status == 1, f"the process did not end with status 1 ({status}):\n{err}"
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("xuexi-bot run:")] == [
        ("xuexi-bot run: BOT_TOKEN: Telegram refused it (401 Unauthorized): revoked or mistyped; "
        "take the current token from @BotFather")]
    assert telegram.calls == ["getMe"]  # asked once: a refused token is not tried again


def test_an_unreachable_telegram_is_tried_again_and_then_the_bot_runs(tmp_path):
    port = free_port()
    telegram = FakeTelegram(port)
    proc, log = start_bot(tmp_path, TELEGRAM_API_URL=telegram.url)
    try:
        wait_for_line(proc, log, "Telegram cannot be reached at start", count=2)  # and it says so, again
        telegram.start()
        wait_for_line(proc, log, "bot @fake_test_bot (4242) polling", timeout=60)
        deadline = time.monotonic() + 30
        while "getUpdates" not in telegram.calls and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "getUpdates" in telegram.calls  # polling
        proc.send_signal(signal.SIGTERM)
        assert finish(proc, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        telegram.stop()
    assert "Traceback" not in log.read_text()


def run_in_process(monkeypatch, tmp_path, capsys, **extra: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in bot_env(tmp_path, **extra).items():
        if name in SETTINGS:
            monkeypatch.setenv(name, value)
    started = time.monotonic()
    status = main(["run"])
    assert time.monotonic() - started < 60
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, [line for line in err.splitlines() if line.startswith("xuexi-bot run:")]


def test_a_metrics_port_taken_by_another_process_is_one_line(monkeypatch, tmp_path, capsys):
    with socket.socket() as taken, FakeTelegram() as telegram:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, lines = run_in_process(monkeypatch, tmp_path, capsys, TELEGRAM_API_URL=telegram.url,
                                       METRICS_PORT=str(port))
    assert status == 1
    assert lines == [(f"xuexi-bot run: METRICS_PORT: cannot listen on 127.0.0.1:{port}: address already in use "
                     "(every process on a host needs a METRICS_PORT of its own)")]
    assert telegram.calls == []  # before Telegram is asked anything


@pytest.mark.parametrize(("setting", "value", "needle"), [
    ("DATABASE_PATH", "{tmp}/a-file/bot.sqlite3", "the database {tmp}/a-file/bot.sqlite3 cannot be opened: "),
    ("DATABASE_URL", "postgresql://xuexi:secret@127.0.0.1:{port}/xuexi",
     "the database postgresql://xuexi@127.0.0.1:{port}/xuexi cannot be opened: ConnectionRefusedError"),
])
def test_a_database_that_cannot_be_opened_is_one_line(monkeypatch, tmp_path, capsys, setting, value, needle):
    (tmp_path / "a-file").write_text("not a folder")
    port = free_port()
    fill = {"tmp": str(tmp_path), "port": str(port)}
    status, lines = run_in_process(monkeypatch, tmp_path, capsys, TELEGRAM_API_URL="http://127.0.0.1:1",
                                   **{setting: value.format(**fill)})
    assert status == 1
    assert len(lines) == 1 and lines[0].startswith("xuexi-bot run: " + needle.format(**fill)), lines
    assert "secret" not in lines[0]  # the password is not printed


# -- python3 dev.py run, under a supervisor ---------------------------------------------------------
DEV_RUN = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("dev", sys.argv[1])
dev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dev)
dev.ensure_venv = lambda: None  # the test's interpreter stands for .venv's
dev.PY = Path(sys.executable)
sys.exit(dev.main(["run"]))
"""


def processes_marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (the bot a wrapper started, wherever it went)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dev_py_run_passes_the_stop_signal_to_the_bot_and_ends_with_it(tmp_path, sig):
    mark = f"XUEXI_DEV_RUN_TEST={os.getpid()}-{sig.name}-{tmp_path.name}"
    name, _, value = mark.partition("=")
    log = tmp_path / "stderr.log"
    with FakeTelegram() as telegram:
        env = bot_env(tmp_path, TELEGRAM_API_URL=telegram.url, DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
                      **{name: value})
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-c", DEV_RUN, str(ROOT / "dev.py")], cwd=tmp_path, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for_line(proc, log, "bot @fake_test_bot (4242) polling")
            proc.send_signal(sig)  # systemd's stop (SIGTERM), a Ctrl+C (SIGINT)
            status = finish(proc, 30)
            left = processes_marked(mark)
        finally:
            for pid in processes_marked(mark):
                os.kill(pid, signal.SIGKILL)
    err = log.read_text()
    assert status == 0, f"status {status}:\n{err}"
    assert f"{sig.name}: stopping" in err and "Traceback" not in err
    assert left == []  # no bot left polling behind the wrapper


def test_a_postgresql_password_refused_is_one_line(monkeypatch, tmp_path, capsys):
    """(The tests' PostgreSQL trusts every local connection, so the server's refusal is asyncpg's own.)"""
    import asyncpg

    from bot import pg

    async def refused(url: str) -> pg.PgConnection:
        raise asyncpg.InvalidPasswordError('password authentication failed for user "xuexi"')

    monkeypatch.setattr(pg, "connect", refused)
    status, lines = run_in_process(monkeypatch, tmp_path, capsys, TELEGRAM_API_URL="http://127.0.0.1:1",
                                   DATABASE_URL="postgresql://xuexi:wrong-pass@db.internal:5432/xuexi")
    assert status == 1
    assert lines == [("xuexi-bot run: the database postgresql://xuexi@db.internal:5432/xuexi cannot be opened: "
                     'InvalidPasswordError: password authentication failed for user "xuexi"')]
