"""Issue 16, backups: `xuexi-bot backup PATH` copies the database while the bot writes to it, `xuexi-bot
restore PATH` puts a copy back (the old file kept as <name>.before-restore); a backup taken under load
restores to a database whose invariants hold (bot/repositories/backup.py, bot/cli.py)."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.db.migrations import head, revisions
from bot.migrations import MIGRATIONS
from bot.outbox import text_push
from bot.repositories.backup import BackupError, backup_database, inspect, restore_database
from bot.store import Store
from tests.support import invariants
from tests.support.factories import make_org, make_user

USERS = list(range(810001, 810021))


def rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


FILES: list[set[str]] = []  # the phones of each member file the load imports


def check_invariants(path: Path) -> dict[str, int]:
    """The store's invariants in the database at `path` (tests/support/invariants.py: ledger sums, unique
    keys, closure table, imports all or nothing, outbox states); returns what it holds."""
    invariants.check(path, files=FILES).assert_ok()
    return {"points": rows(path, "SELECT COUNT(*) FROM points")[0][0], "orgs": rows(path, "SELECT COUNT(*) FROM orgs")[0][0],
            "members": rows(path, "SELECT COUNT(*) FROM members")[0][0],
            "pushes": rows(path, "SELECT COUNT(*) FROM outbox")[0][0]}


async def seed(store: Store) -> int:
    for uid in USERS:
        await make_user(store, uid, f"学员{uid % 100}", verified=True)
    root = await make_org(store, "中共测试委员会", USERS[0], certified=True, branches=["第一支部"])
    for n in range(3000):  # a ledger big enough that a backup takes a while
        await store.award_points(USERS[n % len(USERS)], "quiz", f"2026-11-{1 + n % 20:02d}", 1 + n % 5, cap=None,
                                 best_of_day=False, ref=None, reason=None, idem_key=f"seed-{n}", now="2026-11-23")
    return root


async def load(store: Store, root: int, stop: asyncio.Event, written: list[int], going: asyncio.Event) -> None:
    """Writes while the backup runs: awards (each key tried twice), pushes, organisations joining the tree,
    member files of 200 rows imported."""
    n, parent = 0, root
    while not stop.is_set():
        uid = USERS[n % len(USERS)]
        for _try in range(2):
            await store.award_points(uid, "task", "2026-11-24", 2, cap=None, best_of_day=False, ref=None,
                                     reason=None, idem_key=f"load-{n}", now="2026-11-24")
        await store.enqueue_pushes([text_push(uid, f"push {n}", dedupe_key=f"load-{n}")], "2026-11-24T09:00:00+08:00")
        if n % 10 == 0:
            parent = await make_org(store, f"支部{n}", uid, parent_id=parent, certified=True)
        if n % 10 == 5:
            file = [(f"学员{i}", f"+86137{n:04d}{i:04d}", "第一支部", "") for i in range(200)]
            FILES.append({phone for _, phone, _, _ in file})
            await store.import_members(USERS[0], root, file, [], f"2026-11-24T09:00:00.{n:06d}+08:00")
        n += 1
        written.append(n)
        if n == 20:
            going.set()
        await asyncio.sleep(0)


async def test_a_backup_taken_under_load_restores_with_the_invariants_holding(tmp_path):
    live = tmp_path / "live.sqlite3"
    store = await Store.open(live)
    try:
        root = await seed(store)
        stop, going, written = asyncio.Event(), asyncio.Event(), []
        writer = asyncio.create_task(load(store, root, stop, written, going))
        await going.wait()
        # the copy is made on another connection, in a thread, while the writer goes on; a copy during
        # which the writer wrote is the one restored below
        backup, during = tmp_path / "backup.sqlite3", 0
        for _attempt in range(20):
            before = len(written)
            version = await asyncio.to_thread(backup_database, live, backup)
            during = len(written) - before
            if during:
                break
        stop.set()
        await writer
        await store.award_points(USERS[0], "task", "2026-11-25", 1, cap=None, best_of_day=False, ref=None,
                                 reason=None, idem_key="after-the-backup", now="2026-11-25")
    finally:
        await store.close()
    assert version == head()
    assert during > 0, "the writer wrote nothing while the backups ran"

    # an older database sits where the backup is restored: it is kept beside
    target = tmp_path / "bot.sqlite3"
    other = await Store.open(target)
    await make_user(other, 820001, "旧库的人")
    await other.close()
    restored_version, kept = restore_database(backup, target, revisions())
    assert (restored_version, kept) == (head(), tmp_path / "bot.sqlite3.before-restore")
    assert rows(kept, "SELECT id FROM users") == [(820001,)]

    held = check_invariants(target)
    assert held["points"] > 3000 and held["orgs"] > 1 and held["pushes"] > 0 and held["members"] >= 200  # the load
    assert held["points"] == check_invariants(backup)["points"]
    assert held["points"] < check_invariants(live)["points"]  # the writer went on after the copy
    reopened = await Store.open(target)  # the bot starts on it
    try:
        assert await reopened.schema_version() == head()
        assert await reopened.points_total(USERS[0]) == dict(
            rows(target, "SELECT user_id, total FROM points_totals"))[USERS[0]]
    finally:
        await reopened.close()


def test_restore_refuses_what_is_not_a_backup_of_this_bot(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a database"):
        restore_database(junk, tmp_path / "bot.sqlite3", revisions())
    foreign = tmp_path / "foreign.sqlite3"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError, match="not a xuexi-bot database"):
        inspect(foreign)
    newer = tmp_path / "newer.sqlite3"
    db = sqlite3.connect(newer)
    db.executescript(f"CREATE TABLE users (id INTEGER); PRAGMA user_version = {len(MIGRATIONS) + 1};")
    db.close()
    with pytest.raises(BackupError, match="newer than this bot's"):
        restore_database(newer, tmp_path / "bot.sqlite3", revisions())
    assert not (tmp_path / "bot.sqlite3").exists()  # nothing was touched


async def test_the_backup_and_restore_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "xuexi.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(database))
    monkeypatch.setenv("SECRET_KEY", "backup-secret-key-0123456789")
    store = await Store.open(database)
    await make_user(store, 830001, "备份前")
    try:
        assert await asyncio.to_thread(main, ["backup", str(tmp_path / "copy.sqlite3")]) == 0
        assert "schema version" in capsys.readouterr().out
        await make_user(store, 830002, "备份后")  # the bot went on
    finally:
        await store.close()
    assert main(["restore", str(tmp_path / "copy.sqlite3")]) == 0
    assert "before-restore" in capsys.readouterr().out
    assert rows(database, "SELECT id FROM users") == [(830001,)]
    assert rows(Path(f"{database}.before-restore"), "SELECT id FROM users ORDER BY id") == [(830001,), (830002,)]
    assert main(["restore", str(tmp_path / "missing.sqlite3")]) == 1
    assert "restore failed" in capsys.readouterr().err
