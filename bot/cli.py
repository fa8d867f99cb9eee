"""`xuexi-bot run` (real Telegram, long polling; `--webhook`: Telegram's webhook, README "Webhook mode"),
`xuexi-bot sandbox` (local web chat, its bot polling or `--webhook`), and the
operator's `xuexi-bot backup PATH` / `xuexi-bot restore PATH` (DATABASE_PATH's file; README "Backups")."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings


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


def _database_url(url: str | None) -> dict[str, str]:
    """--database-url as the setting it stands for (it wins over DATABASE_URL in the environment)."""
    return {"DATABASE_URL": url} if url else {}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    try:
        if args.command in ("backup", "restore"):
            return _backup_command(args.command, args.path)
        if args.command == "run":
            from bot.app import run

            settings = load_settings(webhook=args.webhook, overrides=_database_url(args.database_url))
            asyncio.run(run(settings))
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
