"""Online backups and restores of the database file (`xuexi-bot backup PATH`, `xuexi-bot restore PATH`).

A backup is SQLite's backup API (sqlite3's Connection.backup) run in one step from a connection of
its own: one read transaction, so the copy is the database as one moment saw it, while the bot
keeps writing (WAL: a reader never blocks the writer). The copy is written beside its target and
renamed into place only once it checks out, and it is one self-contained file (journal_mode DELETE).

A restore cannot know whether a bot has the database open: the bot must be stopped first. It checks
that the backup opens, passes SQLite's quick check and has a schema this bot knows, keeps the
current database as `<name>.before-restore` (itself copied with the backup API, so what sat in its
write-ahead log is kept too), drops the old write-ahead log (it belongs to the old file) and moves
the backup's copy into place.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from bot.migrations import LEGACY_HEAD
from bot.repositories.deployment import KEY_FINGERPRINT


class BackupError(Exception):
    """One line for the operator."""


class DatabaseInUse(BackupError):
    """Another process holds the SQLite file's lock (a running bot, or a restore)."""


@contextmanager
def holding(database: Path, doing: str) -> Iterator[None]:
    """The lock of the SQLite file `database` (flock on `<database>.lock` beside it, which says the
    holder's process id) while the block runs: one bot per file, and no restore under a running bot.
    DatabaseInUse at once when another process holds it. The kernel lets go when the process ends,
    however it ends; the file stays (removing it would let two processes lock two different files)."""
    lock = Path(f"{database}.lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # a folder that is a file, or not ours to write: one line, not a traceback
        raise BackupError(f"the database {database} cannot be opened: {type(exc).__name__}: "
                          f"{exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise DatabaseInUse(f"{database} is in use by another process (pid {holder}, see {lock}): "
                                f"one bot per SQLite file; stop it before {doing}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def key_fingerprint_of(path: Path) -> str | None:
    """The fingerprint of the SECRET_KEY the database at `path` was made with (bot/services/keys.py);
    None when it has none (made before fingerprints were kept, or never started)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM deployment WHERE name = ?", (KEY_FINGERPRINT,)).fetchone()
    except sqlite3.OperationalError:  # no such table: an older schema
        return None
    return None if row is None else str(row[0])


def owner_only(path: Path) -> None:
    """The SQLite file at `path` readable and writable by its owner alone, from its creation when it is
    new (SQLite gives its -wal, -shm and -journal files the database file's mode) and made so when an
    older version left it open to others; its -wal and -shm too. Names and phones are in it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if each.stat().st_mode & 0o077:
                each.chmod(0o600)
        except FileNotFoundError:
            continue


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """`source` into a new file at `target` (through a temporary name, owner-only), self-contained."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        owner_only(partial)
        with closing(sqlite3.connect(partial)) as out:
            source.backup(out)  # pages=-1: all pages in one step, from one snapshot
            out.execute("PRAGMA journal_mode = DELETE")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def inspect(path: Path) -> str:
    """The schema version of the database at `path` after checking it is one of ours and whole: its Alembic
    revision, or the legacy version (a number) of a database from before the move to Alembic. BackupError
    says what is wrong."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(f"{path} is damaged: {check[0] if check else 'no answer'}")
            legacy = int(db.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = (db.execute("SELECT version_num FROM alembic_version").fetchone()
                        if "alembic_version" in tables else None)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a database this bot can open: {exc}") from None
    version = str(revision[0]) if revision else str(legacy)
    if (legacy == 0 and revision is None) or "users" not in tables:
        raise BackupError(f"{path} is not a xuexi-bot database (schema version {version})")
    return version


def newer(version: str, known: Sequence[str]) -> bool:
    """Whether a database of schema `version` (inspect's) was written by a newer bot than one knowing the
    revisions `known` (oldest first): a revision not among them, or a legacy version above the last one."""
    if version.isdigit() and len(version) < len(known[0]):  # a legacy version: 1 .. LEGACY_HEAD
        return int(version) > LEGACY_HEAD
    return version not in known


def backup_database(database: Path, target: Path) -> str:
    """A consistent copy of `database` (which a running bot may be writing) at `target`; returns its
    schema version."""
    if not database.is_file():
        raise BackupError(f"{database} does not exist (DATABASE_PATH)")
    if target.resolve() == database.resolve():
        raise BackupError("the backup must not be the database itself")
    if target.parent and not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a directory")
    try:
        with closing(sqlite3.connect(database, timeout=30)) as source:
            _copy(source, target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup failed: {exc}") from None
    return inspect(target)


def prune(folder: Path, stem: str, keep: int) -> list[Path]:
    """Deletes all but the newest `keep` backups named `<stem>-<time>.sqlite3` in `folder` (the names sort
    by time); returns those deleted."""
    backups = sorted(p for p in folder.glob(f"{stem}-*.sqlite3") if p.is_file())
    gone = backups[:-keep] if keep > 0 else backups
    for old in gone:
        old.unlink(missing_ok=True)
    return gone


def restore_database(backup: Path, database: Path, known: Sequence[str],
                     accept: Callable[[Path], None] = lambda path: None) -> tuple[str, Path | None]:
    """Replaces `database` (its bot stopped) with a copy of `backup`; returns (the backup's schema
    version, where the old database was kept or None when there was none). A backup older than this
    bot's schema is migrated when the bot starts; a newer one is refused, and so is one `accept(backup)`
    refuses (raising BackupError: made with another key). `known`: this bot's Alembic revisions, oldest first."""
    version = inspect(backup)
    accept(backup)
    if newer(version, known):
        raise BackupError(f"{backup} has schema version {version}, newer than this bot's {known[-1]}: "
                          "restore it with the bot version that made it")
    if backup.resolve() == database.resolve():
        raise BackupError("the backup is the database itself")
    kept: Path | None = None
    if database.exists():
        kept = database.with_name(database.name + ".before-restore")
        if kept.exists():
            raise BackupError(f"{kept} exists (from an earlier restore): move it away first")
        try:
            with closing(sqlite3.connect(database, timeout=30)) as old:
                _copy(old, kept)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the current database could not be kept as {kept}: {exc}") from None
    database.parent.mkdir(parents=True, exist_ok=True)
    incoming = database.with_name(database.name + ".restoring")
    with closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as source:
        _copy(source, incoming)
    for suffix in ("-wal", "-shm"):  # the old file's log would be replayed into the restored one
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(incoming, database)
    return version, kept
