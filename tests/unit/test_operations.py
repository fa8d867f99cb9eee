"""What an operator relies on around the SQLite file (README "Installing for production", "Upgrading",
"Backups"): files holding personal data or secrets are owner-only from their creation; processes
starting together on a fresh folder agree on one generated key; the data remembers the fingerprint of
the SECRET_KEY it was made with, and the bot, `restore` and `copy-to-postgresql` refuse another key with
one line; a running bot holds the file's lock, so a second `run` and a `restore` refuse while `backup`
still works; every migration is logged and a database of a newer bot is refused with one line."""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.db.migrations import head, revisions
from bot.migrations import MIGRATIONS
from bot.repositories.backup import backup_database, holding, restore_database
from bot.services.keys import KeyMismatch, check_key, fingerprint
from bot.store import Store
from tests.support.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
KEY_A, KEY_B = "first-secret-key-0123456789", "other-secret-key-0123456789"
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shell_umask() -> Iterator[None]:
    """The umask a login shell usually has (group and others may read), put back afterwards."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The operator's environment: the working directory, DATABASE_PATH, a Telegram that refuses at once."""
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "xuexi.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(database))
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # nothing listens: never the real Telegram
    for name in ("DATABASE_URL", "SECRET_KEY", "SHARED_DATABASE", "WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return database


async def made_with(database: Path, key: str) -> None:
    """A database whose data was made with `key` (as the bot's start records it), with one member."""
    store = await Store.open(database)
    try:
        await check_key(store, key.encode())
        await make_user(store, 840001, "甲")
    finally:
        await store.close()


def untouched(database: Path, before: bytes) -> bool:
    """The database as it was, nothing kept beside it, no key generated."""
    return (database.read_bytes() == before and not Path(f"{database}.before-restore").exists()
            and not (database.parent / "secret.key").exists())


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# -- owner-only files ---------------------------------------------------------------------------------
async def test_sec_files_with_personal_data_or_secrets_are_owner_only_from_creation(tmp_path, shell_umask):
    database = tmp_path / "data" / "xuexi.sqlite3"
    store = await Store.open(database)
    try:
        await make_user(store, 840001, "甲")
        assert {p.name: mode(p) for p in database.parent.iterdir()} == {
            "xuexi.sqlite3": 0o600, "xuexi.sqlite3-wal": 0o600, "xuexi.sqlite3-shm": 0o600}
        assert mode(backup_database(database, tmp_path / "b.sqlite3") and tmp_path / "b.sqlite3") == 0o600
    finally:
        await store.close()
    restore_database(tmp_path / "b.sqlite3", database, revisions())
    assert mode(database) == 0o600 and mode(Path(f"{database}.before-restore")) == 0o600
    settings = load_settings({"DATABASE_PATH": str(database), "WEBHOOK_URL": "https://bot.example.org"},
                             require_token=False, webhook=True, dotenv=None)
    assert settings.webhook is not None
    assert mode(database.parent / "secret.key") == 0o600 and mode(database.parent / "webhook.secret") == 0o600


async def test_sec_an_older_database_open_to_others_is_made_owner_only(tmp_path, shell_umask):
    database = tmp_path / "old.sqlite3"
    await (await Store.open(database)).close()
    database.chmod(0o644)  # as an older version left it
    await (await Store.open(database)).close()
    assert mode(database) == 0o600


def test_sec_calls_generating_the_key_together_agree_on_one(tmp_path, monkeypatch):
    """Eight starts at once on a fresh folder (threads here; processes race the same way), the key's
    generation slowed so that each sees no key file first: one key is written, and all use it."""
    import secrets
    import threading

    token_hex = secrets.token_hex

    def slow_token_hex(n: int) -> str:
        time.sleep(0.2)
        return token_hex(n)

    monkeypatch.setattr(secrets, "token_hex", slow_token_hex)
    gate = threading.Barrier(8)
    keys: list[bytes] = []

    def start() -> None:
        gate.wait()
        keys.append(load_settings({"DATABASE_PATH": str(tmp_path / "data" / "x.sqlite3")}, require_token=False,
                                  dotenv=None).secret_key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(keys) == {(tmp_path / "data" / "secret.key").read_bytes()} and len(keys) == 8
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]  # no partial file left


# -- the key's fingerprint ------------------------------------------------------------------------------
async def test_the_bot_refuses_data_made_with_another_key(operator_env, monkeypatch, capsys):
    await made_with(operator_env, KEY_A)
    monkeypatch.setenv("SECRET_KEY", KEY_B)
    assert await asyncio.to_thread(main, ["run"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "the database was made with another SECRET_KEY" in line and fingerprint(KEY_A.encode()) in line


async def test_a_database_without_a_fingerprint_takes_the_key_in_use(store):
    """On both backends (the `store` fixture): the first start records its key, later ones compare."""
    await check_key(store, KEY_A.encode())  # made before fingerprints were kept, or new
    await check_key(store, KEY_A.encode())
    with pytest.raises(KeyMismatch, match="the database was made with another SECRET_KEY"):
        await check_key(store, KEY_B.encode())


async def test_restore_refuses_a_backup_made_with_another_key(operator_env, tmp_path, monkeypatch, capsys):
    other = tmp_path / "other.sqlite3"
    await made_with(other, KEY_A)
    await made_with(operator_env, KEY_B)
    before = operator_env.read_bytes()
    monkeypatch.setenv("SECRET_KEY", KEY_B)
    assert main(["restore", str(other)]) == 1
    assert "was made with another SECRET_KEY" in one_line(capsys.readouterr().err)
    monkeypatch.delenv("SECRET_KEY")  # and no secret.key beside the database: none is generated
    assert main(["restore", str(other)]) == 1
    assert "none is set" in one_line(capsys.readouterr().err)
    assert untouched(operator_env, before)
    monkeypatch.setenv("SECRET_KEY", KEY_A)
    assert main(["restore", str(other)]) == 0


# -- one bot per SQLite file ------------------------------------------------------------------------------
@pytest.fixture
def running_bot(operator_env: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the database's lock as a running bot does."""
    script = ("import sys, time\nfrom pathlib import Path\nfrom bot.repositories.backup import holding\n"
              f"with holding(Path({str(operator_env)!r}), 'x'):\n    print('held', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def test_a_second_bot_and_a_restore_refuse_while_a_bot_runs_and_a_backup_works(
        operator_env, running_bot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", KEY_A)
    await made_with(operator_env, KEY_A)
    assert await asyncio.to_thread(main, ["run"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"in use by another process (pid {running_bot.pid}" in line and "one bot per SQLite file" in line
    assert main(["backup", str(tmp_path / "backups") + "/"]) == 0
    backup = next((tmp_path / "backups").iterdir())
    assert main(["restore", str(backup)]) == 1
    assert "in use by another process" in one_line(capsys.readouterr().err)
    running_bot.kill()
    running_bot.wait()
    with holding(operator_env, "x"):  # free once the holder is gone, however it ended
        pass


# -- schema versions ------------------------------------------------------------------------------------
async def test_every_migration_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="bot.store"):
        await (await Store.open(tmp_path / "x.sqlite3")).close()
    lines = [r.getMessage() for r in caplog.records if "migrating the schema" in r.getMessage()]
    assert lines == [f"database: migrating the schema from revision {before} to {after} (of {head()})"
                     for before, after in zip(["none", *revisions()], revisions())]


async def test_an_older_bot_refuses_a_newer_schema_with_one_line(operator_env, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", KEY_A)
    await made_with(operator_env, KEY_A)
    with sqlite3.connect(operator_env) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert await asyncio.to_thread(main, ["run"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"schema version {len(MIGRATIONS) + 1}, newer than this bot's {len(MIGRATIONS)}" in line


# -- backups into a folder, with retention -------------------------------------------------------------
async def test_backup_into_a_missing_folder_keeping_the_newest(operator_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", KEY_A)
    await made_with(operator_env, KEY_A)
    folder = tmp_path / "var" / "backups"
    assert main(["backup", f"{folder}/"]) == 0  # created when missing
    first = next(folder.iterdir())
    for day in ("20200101", "20200102", "20200103"):  # older backups of the same naming
        (folder / f"xuexi-{day}T030000Z.sqlite3").write_bytes(first.read_bytes())
    (folder / "notes.txt").write_text("not a backup")
    assert main(["backup", f"{folder}/", "--keep", "2"]) == 0
    assert "removed" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "xuexi-20200103T030000Z.sqlite3", first.name]
    assert main(["backup", str(folder / "one.sqlite3"), "--keep", "2"]) == 1
    assert "--keep N" in one_line(capsys.readouterr().err)


# -- the starter bank -------------------------------------------------------------------------------------
def test_the_starter_bank_loads_once_with_the_bot_stopped(operator_env, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", KEY_A)
    assert main(["load-starter-bank"]) == 0
    assert "67 questions added to the global bank (67 in it now)" in capsys.readouterr().out
    with sqlite3.connect(operator_env) as db:
        assert db.execute("SELECT COUNT(*) FROM questions WHERE org_id IS NULL").fetchone() == (67,)
    assert main(["load-starter-bank"]) == 0
    assert "0 questions added to the global bank (67 in it now)" in capsys.readouterr().out
    with holding(operator_env, "x"):
        assert main(["load-starter-bank"]) == 1
    assert "stop it before loading the starter bank" in one_line(capsys.readouterr().err)
