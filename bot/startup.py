"""What the process says about itself at start: the log's level and format (LOG_LEVEL; timestamps in
ISO 8601 with the host's UTC offset, so lines from hosts in different zones compare), and where each
setting came from (the environment, a `.env` file in the working directory, the command line, or the
default), secrets masked: a `.env` left in the working directory is merged in silently otherwise."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import ConfigError, read_dotenv

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SETTINGS = ("BOT_TOKEN", "DATABASE_PATH", "DATABASE_URL", "TIMEZONE", "OPERATOR_IDS", "SECRET_KEY",
            "DEFAULT_LANGUAGE", "TASK_REMIND_MINUTES", "TELEGRAM_API_URL", "CLOCK_OFFSET_SECONDS", "OUTBOX_RATE",
            "OUTBOX_PAID_BROADCAST", "METRICS_PORT", "METRICS_HOST", "SHARED_DATABASE", "WEBHOOK_URL",
            "WEBHOOK_PATH", "WEBHOOK_HOST", "WEBHOOK_PORT", "WEBHOOK_SECRET", "WEBHOOK_MAX_CONNECTIONS",
            "LOG_LEVEL")
SECRETS = ("SECRET_KEY", "WEBHOOK_SECRET")


class LocalTimeFormatter(logging.Formatter):
    """asctime as 2026-12-07T20:36:17.732+08:00: the host's local time with its offset."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def log_level(env: Mapping[str, str]) -> int:
    text = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
    if text not in LEVELS:
        raise ConfigError("LOG_LEVEL", f"{text!r} is not one of {', '.join(LEVELS)}")
    return int(getattr(logging, text))


def configure_logging(env: Mapping[str, str]) -> None:
    """stderr at LOG_LEVEL (a ConfigError naming it when it is not a level); as logging.basicConfig,
    nothing changes when the root logger has handlers already (a test runner's)."""
    level = log_level(env)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(LocalTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
    for chatty in ("aiogram.event", "apscheduler"):  # a line per update handled, per job added
        logging.getLogger(chatty).setLevel(max(logging.WARNING, level))


def masked(name: str, value: str) -> str:
    if name in SECRETS:
        return "***"
    if name == "BOT_TOKEN":  # the bot's id, not the part that grants access
        return value.partition(":")[0] + ":***"
    if name == "DATABASE_URL":
        parts = urlsplit(value)
        if parts.password:
            return value.replace(f":{parts.password}@", ":***@", 1)
    return value


def describe_sources(environ: Mapping[str, str], dotenv: Path = Path(".env"),
                     overrides: Mapping[str, str] | None = None) -> str:
    """One line: each setting given, with its value (secrets masked) grouped by where it came from, then
    the names left at their defaults."""
    from_file = read_dotenv(dotenv)
    groups: dict[str, list[str]] = {"the command line": [], "the environment": [], str(dotenv.resolve()): []}
    defaults = []
    for name in SETTINGS:
        for source, values in (("the command line", overrides or {}), ("the environment", environ),
                               (str(dotenv.resolve()), from_file)):
            if name in values:  # (the first that names it wins, as in load_settings)
                value = values[name].strip()
                if value:
                    groups[source].append(f"{name}={masked(name, value)}")
                else:
                    defaults.append(name)
                break
        else:
            defaults.append(name)
    said = [f"from {source}: {', '.join(items)}" for source, items in groups.items() if items]
    return "configuration " + "; ".join([*said, f"defaults: {', '.join(defaults) or 'none'}"])
