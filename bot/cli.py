"""`xuexi-bot run` (real Telegram, long polling; `--webhook`: Telegram's webhook, README "Webhook mode"),
`xuexi-bot sandbox` (local web chat, its bot polling or `--webhook`), and the
operator's `xuexi-bot backup PATH` / `xuexi-bot restore PATH` (DATABASE_PATH's file; README "Backups") and
`xuexi-bot copy-to-postgresql [URL]` (DATABASE_PATH's file into an empty PostgreSQL database; README
"Moving from SQLite to PostgreSQL")."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from bot.config import ConfigError, Settings, database_path, environment, folder_of, load_settings
from bot.migrations import SchemaTooNew
from bot.pg import is_url
from bot.redaction import install_log_redaction
from bot.repositories.backup import BackupError
from bot.services.keys import KeyMismatch
from bot.startup import configure_logging, describe_sources


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xuexi-bot", description="学习强国-style study organisation bot")
    sub = parser.add_subparsers(dest="command", required=True)
    rn = sub.add_parser("run", help="run against Telegram (needs BOT_TOKEN)")
    rn.add_argument("--webhook", action="store_true", help="receive updates by Telegram's webhook "
                    "(WEBHOOK_URL, ...) instead of long polling")
    rn.add_argument("--database-url", default=None, metavar="URL", help="PostgreSQL database, "
                    "postgresql://user:password@host:port/name (default: DATABASE_URL, else the SQLite file)")
    sb = sub.add_parser("sandbox", help="run the bot in the local sandbox with its web chat")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8080)
    sb.add_argument("--db", type=Path, default=None, help="SQLite file (default data/sandbox.sqlite3)")
    sb.add_argument("--database-url", default=None, metavar="URL", help="the bot's database on PostgreSQL, "
                    "postgresql://... (default: DATABASE_URL; without either, the SQLite file of --db)")
    sb.add_argument("--demo", action="store_true", help="load demo users and data")
    sb.add_argument("--no-bot", action="store_true", help="serve the sandbox only; run the bot separately "
                    "with TELEGRAM_API_URL=http://HOST:PORT")
    sb.add_argument("--webhook", action="store_true", help="the bot receives updates by webhook: the sandbox "
                    "POSTs them to the bot's server on 127.0.0.1 (WEBHOOK_PORT, default a free port)")
    bk = sub.add_parser("backup", help="copy the database (DATABASE_PATH) to PATH while the bot runs")
    bk.add_argument("path", help="the backup file, or a folder (ending in /) to put a new "
                    "dated one in (created when missing)")
    bk.add_argument("--keep", type=int, default=None, metavar="N", help="with a folder: delete all but the "
                    "newest N backups in it")
    rs = sub.add_parser("restore", help="replace the database with the backup at PATH (stop the bot first)")
    rs.add_argument("path", type=Path)
    cp = sub.add_parser("copy-to-postgresql", help="copy the SQLite database (DATABASE_PATH) into an empty "
                        "PostgreSQL database (stop the bot first)")
    cp.add_argument("url", nargs="?", default=None, help="postgresql://user:password@host:port/name "
                    "(default: DATABASE_URL)")
    cp.add_argument("--db", type=Path, default=None, help="the SQLite file (default: DATABASE_PATH)")
    sub.add_parser("load-starter-bank", help="add the starter questions (67, zh and en: the bot's own rules, "
                   "the constitution, science, geography, history) to the global bank, so that a new "
                   "deployment can quiz at once")
    return parser


def _backup_target(database: Path, path: str) -> Path:
    """PATH itself, or in a folder (one that exists, or a name ending in /) a new file named after the
    database and the time, `xuexi-20261125T030000Z.sqlite3`; the folder is created when missing."""
    from datetime import UTC, datetime

    target = Path(path)
    if _is_folder(path):
        target = target / f"{database.stem}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _is_folder(path: str) -> bool:
    return path.endswith("/") or Path(path).is_dir()


def _backup(database: Path, path: str, keep: int | None) -> None:
    from bot.repositories.backup import backup_database, prune

    if keep is not None and (keep < 1 or not _is_folder(path)):
        raise BackupError("--keep N (1 or more) prunes a folder of backups: name a folder (ending in /) as PATH")
    target = _backup_target(database, path)
    version = backup_database(database, target)
    print(f"backup: {database} -> {target} (schema version {version}, {target.stat().st_size} bytes)")
    if keep is not None:
        for old in prune(target.parent, database.stem, keep):
            print(f"backup: removed {old} (keeping the newest {keep})")


def _restore(database: Path, path: Path, key: bytes | None) -> None:
    from bot.db.migrations import revisions
    from bot.repositories.backup import holding, key_fingerprint_of, restore_database
    from bot.services.keys import mismatch

    def same_key(backup: Path) -> None:
        recorded = key_fingerprint_of(backup)
        if recorded is not None and key is None:
            raise BackupError(f"{backup} was made with a SECRET_KEY and none is set: set SECRET_KEY, or put "
                              f"the secret.key it was made with beside {database}")
        refusal = mismatch(recorded, key or b"", f"the backup {backup}")
        if refusal is not None:
            raise BackupError(str(refusal))

    with holding(database, "restoring"):  # no bot may have the file open meanwhile
        version, kept = restore_database(path, database, revisions(), accept=same_key)
    print(f"restore: {path} -> {database} (schema version {version})"
          + (f"; the previous database is kept as {kept}" if kept else ""))


def _backup_command(command: str, path: str, keep: int | None = None) -> int:
    from bot.config import existing_secret_key

    settings = load_settings(require_token=False) if command == "backup" else None
    if environment().get("DATABASE_URL", "").strip():
        print(f"{command}: DATABASE_URL is set: use PostgreSQL's pg_dump / pg_restore for its database",
              file=sys.stderr)
        return 1
    try:
        if settings is not None:
            _backup(settings.database_path, path, keep)
        else:  # restore: the key in force is read, never generated (a new one could not match the backup)
            env = environment()
            database = database_path(env)
            _restore(database, Path(path), existing_secret_key(env, database))
    except (BackupError, OSError) as exc:
        print(f"{command} failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _where(url: str) -> str:
    """A PostgreSQL URL without its password, for what is printed."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def _copy_to_postgresql(database: Path, url: str, key: bytes | None) -> int:
    import tempfile

    import asyncpg

    # the operator's commands load the store only when run (the bot's start does not need them)
    from bot.db.migrations import head, revisions
    from bot.repositories.transfer import TransferError, copy_rows, snapshot
    from bot.services.keys import KeyMismatch, check_key
    from bot.store import Store

    if key is None:
        print(f"copy-to-postgresql: no SECRET_KEY and no secret.key beside {database}: set SECRET_KEY to the key "
              "the data was made with", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="xuexi-copy-") as folder:
            source = Path(folder) / "source.sqlite3"
            version = snapshot(database, source, revisions())
            copy = await Store.open(source, cache_size=0)  # brought to this bot's schema by its own migrations
            try:  # the key in use must be the data's; its fingerprint goes over with the rows
                await check_key(copy, key)
            finally:
                await copy.close()
            await (await Store.open(url, cache_size=0)).close()
            print(f"copy-to-postgresql: {database} (schema version {version}) -> {_where(url)} "
                  f"(schema version {head()})", flush=True)
            copied = await copy_rows(source, url, progress=lambda line: print(line, flush=True))
    except (TransferError, KeyMismatch, OSError, asyncpg.PostgresError) as exc:
        print(f"copy-to-postgresql failed, nothing was copied: {exc}", file=sys.stderr)
        return 1
    print(f"copy-to-postgresql: {copied.rows:,} rows in {len(copied.tables)} tables in {copied.seconds:.1f} s; "
          "start the bot with DATABASE_URL set to the new database and SECRET_KEY to the key the data was "
          f"made with (SECRET_KEY here, or the content of {folder_of(database) / 'secret.key'})")
    return 0


def _database_url(url: str | None) -> dict[str, str]:
    """--database-url as the setting it stands for (it wins over DATABASE_URL in the environment)."""
    return {"DATABASE_URL": url} if url else {}


def _holding_own_file(settings: Settings, doing: str) -> AbstractContextManager[None]:
    """The SQLite file's lock while the block runs, when the file is this process's own (not PostgreSQL,
    not SHARED_DATABASE): a second bot, or a restore, refuses meanwhile."""
    from bot.repositories.backup import holding

    alone = settings.database_url is None and not settings.shared_database
    return holding(settings.database_path, doing) if alone else nullcontext()


def _run(args: argparse.Namespace) -> int:
    """`run`: the bot until stopped (0); a start that cannot go on is one line on stderr and status 1, and
    the process ends (nothing left running to keep it alive). On an SQLite file of its own (not
    SHARED_DATABASE) the bot holds the file's lock while it runs, so a second bot, or a restore, refuses
    instead of writing beside it."""
    try:
        settings = load_settings(webhook=args.webhook, overrides=_database_url(args.database_url))
    except OSError as exc:  # the data folder (generated keys beside the database) cannot be written
        print(f"xuexi-bot run: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 1
    given = describe_sources(os.environ, overrides=_database_url(args.database_url))
    logging.getLogger("bot").info("%s", given)
    with _holding_own_file(settings, "starting another"):
        # imported (seconds of CPU) once the lock is ours: a second bot refuses at once
        from aiogram.exceptions import TelegramAPIError

        from bot.app import StartupError, run

        try:
            asyncio.run(run(settings))
        except (StartupError, SchemaTooNew, KeyMismatch) as exc:
            print(f"xuexi-bot run: {exc}", file=sys.stderr)
            return 1
        except TelegramAPIError as exc:  # a call at start after getMe (menus, deleteWebhook) failed
            print(f"xuexi-bot run: Telegram's {exc.method.__api_method__} failed: {exc.message}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            pass
        except Exception:  # a bug: its traceback, and the process ends so that a supervisor restarts it
            logging.getLogger("bot").exception("xuexi-bot run failed")
            return 1
    return 0


async def _load_starter_bank(settings: Settings) -> int:
    # the operator's commands load the store and the services only when run
    from bot.clock import MovableClock
    from bot.services.questions import load_demo_questions
    from bot.store import Store

    store = await Store.open(settings.database, cache_size=0)
    try:
        added = await load_demo_questions(store, MovableClock(settings.timezone))
        total = await store.question_bank_size(None)
    finally:
        await store.close()
    print(f"load-starter-bank: {added} questions added to the global bank ({total} in it now)")
    return 0


def _starter_bank_command() -> int:
    """`load-starter-bank`: on an SQLite file, with its bot stopped (it caches the bank)."""
    settings = load_settings(require_token=False)
    with _holding_own_file(settings, "loading the starter bank"):
        return asyncio.run(_load_starter_bank(settings))


def _copy_command(args: argparse.Namespace) -> int:
    from bot.config import existing_secret_key

    settings = load_settings(require_token=False)
    url = args.url or settings.database_url
    if not is_url(url):
        print("copy-to-postgresql: name the target, postgresql://user:password@host:port/name "
              "(or set DATABASE_URL)", file=sys.stderr)
        return 2
    database = args.db or settings.database_path
    return asyncio.run(_copy_to_postgresql(database, str(url), existing_secret_key(environment(), database)))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # what the bot writes (the database and its logs, backups, generated secrets) is its user's alone
    os.umask(0o077)
    try:
        configure_logging(environment())  # LOG_LEVEL from the environment or .env, as every setting
        install_log_redaction()  # an ID number quoted by any log line is hidden (RNV-3)
        if args.command in ("backup", "restore"):
            return _backup_command(args.command, args.path, getattr(args, "keep", None))
        if args.command == "copy-to-postgresql":
            return _copy_command(args)
        if args.command == "load-starter-bank":
            return _starter_bank_command()
        if args.command == "run":
            return _run(args)
        else:
            from bot.sandbox.runner import run_sandbox

            asyncio.run(run_sandbox(host=args.host, port=args.port, db=args.db, demo=args.demo,
                                    with_bot=not args.no_bot, webhook=args.webhook,
                                    database=_database_url(args.database_url)))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except (BackupError, SchemaTooNew, KeyMismatch) as exc:  # the bot refuses the data: one line
        print(f"xuexi-bot {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
