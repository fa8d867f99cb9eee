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
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.pg import is_url
from bot.redaction import install_log_redaction
from bot.startup import configure_logging, describe_sources, merged_environment


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
    bk.add_argument("path", type=Path)
    rs = sub.add_parser("restore", help="replace the database with the backup at PATH (stop the bot first)")
    rs.add_argument("path", type=Path)
    cp = sub.add_parser("copy-to-postgresql", help="copy the SQLite database (DATABASE_PATH) into an empty "
                        "PostgreSQL database (stop the bot first)")
    cp.add_argument("url", nargs="?", default=None, help="postgresql://user:password@host:port/name "
                    "(default: DATABASE_URL)")
    cp.add_argument("--db", type=Path, default=None, help="the SQLite file (default: DATABASE_PATH)")
    return parser


def _backup_command(command: str, path: Path) -> int:
    from bot.migrations import MIGRATIONS
    from bot.repositories.backup import BackupError, backup_database, restore_database

    settings = load_settings(require_token=False)
    if settings.database_url:  # the server's own tools copy a PostgreSQL database
        print(f"{command}: DATABASE_URL is set: use PostgreSQL's pg_dump / pg_restore for its database",
              file=sys.stderr)
        return 1
    database = settings.database_path
    try:
        if command == "backup":
            version = backup_database(database, path)
            print(f"backup: {database} -> {path} (schema version {version}, {path.stat().st_size} bytes)")
        else:
            version, kept = restore_database(path, database, len(MIGRATIONS))
            print(f"restore: {path} -> {database} (schema version {version})"
                  + (f"; the previous database is kept as {kept}" if kept else ""))
    except BackupError as exc:
        print(f"{command} failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _where(url: str) -> str:
    """A PostgreSQL URL without its password, for what is printed."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def _copy_to_postgresql(database: Path, url: str) -> int:
    import tempfile

    import asyncpg

    # the operator's commands load the store only when run (the bot's start does not need them)
    from bot.migrations import MIGRATIONS
    from bot.repositories.transfer import TransferError, copy_rows, snapshot
    from bot.store import Store

    try:
        with tempfile.TemporaryDirectory(prefix="xuexi-copy-") as folder:
            source = Path(folder) / "source.sqlite3"
            version = snapshot(database, source, len(MIGRATIONS))
            for path in (source, url):  # both brought to this bot's schema by its own migrations
                await (await Store.open(path, cache_size=0)).close()
            print(f"copy-to-postgresql: {database} (schema version {version}) -> {_where(url)} "
                  f"(schema version {len(MIGRATIONS)})", flush=True)
            copied = await copy_rows(source, url, progress=lambda line: print(line, flush=True))
    except (TransferError, OSError, asyncpg.PostgresError) as exc:
        print(f"copy-to-postgresql failed, nothing was copied: {exc}", file=sys.stderr)
        return 1
    print(f"copy-to-postgresql: {copied.rows:,} rows in {len(copied.tables)} tables in {copied.seconds:.1f} s; "
          "start the bot with DATABASE_URL set to the new database")
    return 0


def _database_url(url: str | None) -> dict[str, str]:
    """--database-url as the setting it stands for (it wins over DATABASE_URL in the environment)."""
    return {"DATABASE_URL": url} if url else {}


def _run(settings: Settings) -> int:
    """The bot until stopped (0); a start that cannot go on is one line on stderr and status 1, and
    the process ends (nothing left running to keep it alive)."""
    from aiogram.exceptions import TelegramAPIError

    from bot.app import StartupError, run

    try:
        asyncio.run(run(settings))
    except StartupError as exc:
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        configure_logging(merged_environment(os.environ))
        install_log_redaction()  # an ID number quoted by any log line is hidden (RNV-3)
        if args.command in ("backup", "restore"):
            return _backup_command(args.command, args.path)
        if args.command == "copy-to-postgresql":
            settings = load_settings(require_token=False)
            url = args.url or settings.database_url
            if not is_url(url):
                print("copy-to-postgresql: name the target, postgresql://user:password@host:port/name "
                      "(or set DATABASE_URL)", file=sys.stderr)
                return 2
            return asyncio.run(_copy_to_postgresql(args.db or settings.database_path, str(url)))
        if args.command == "run":
            try:
                settings = load_settings(webhook=args.webhook, overrides=_database_url(args.database_url))
            except OSError as exc:  # the data folder (generated keys beside the database) cannot be written
                print(f"xuexi-bot run: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
                return 1
            given = describe_sources(os.environ, overrides=_database_url(args.database_url))
            logging.getLogger("bot").info("%s", given)
            return _run(settings)
        else:
            from bot.sandbox.runner import run_sandbox

            asyncio.run(run_sandbox(host=args.host, port=args.port, db=args.db, demo=args.demo,
                                    with_bot=not args.no_bot, webhook=args.webhook,
                                    database=_database_url(args.database_url)))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
