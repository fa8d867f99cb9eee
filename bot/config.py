"""Settings from the environment (and an optional .env file).

A bad value stops start-up with one clear line naming the variable (ConfigError).
"""
from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("zh", "en")
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
MAX_CLOCK_OFFSET = 100 * 366 * 86400  # seconds: a moved clock stays within datetime's range
MAX_FREE_RATE = 30.0     # messages/s Telegram allows a bot overall (about)
MAX_PAID_RATE = 1000.0   # messages/s with paid broadcasts (allow_paid_broadcast)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")  # Telegram's secret_token: 1-256 of these
_WEBHOOK_PATH_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


class ConfigError(Exception):
    """One line for the operator: which variable is wrong and why."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    database_path: Path
    timezone: ZoneInfo
    operator_ids: frozenset[int]
    secret_key: bytes
    default_language: str = "zh"
    api_base: str | None = None
    data_dir: Path = field(default=Path("data"))
    clock_offset_seconds: float = 0.0
    outbox_rate: float = 25.0             # pushes per second overall (1 per second per chat)
    outbox_paid_broadcast: bool = False   # Telegram's paid broadcasts: allow_paid_broadcast, up to 1,000/s
    outbox_backoff_max: float = 300.0     # seconds: the longest wait between two tries of a push (Telegram down)
    task_remind_minutes: int = 120  # WORK-1: the automatic reminder, this long before a task's deadline
    metrics_port: int | None = None  # Prometheus /metrics and /healthz (bot/metrics.py); None: off
    metrics_host: str = "127.0.0.1"
    webhook: WebhookSettings | None = None  # `run --webhook` (bot/webhook.py); None: long polling
    database_url: str | None = None  # DATABASE_URL=postgresql://...: PostgreSQL instead of the SQLite file
    # SHARED_DATABASE=1: other bot processes use the same database (issue 17): no read caches, the sweep
    # and the sender only in the leader lease's holder, one person's updates taken in turn (bot/leases.py);
    # on whenever DATABASE_URL is set
    shared_database: bool = False

    @property
    def database(self) -> str | Path:
        """What Store.open takes: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def tz_name(self) -> str:
        return self.timezone.key


@dataclass(frozen=True)
class WebhookSettings:
    """Webhook mode: Telegram POSTs each update to `url` (the public address, WEBHOOK_URL + WEBHOOK_PATH,
    usually a reverse proxy), which reaches the bot's own server on host:port at `path`."""
    url: str
    secret: str  # X-Telegram-Bot-Api-Secret-Token: requests without it are refused
    host: str = "127.0.0.1"
    port: int = 8081
    path: str = "/telegram/webhook"
    max_connections: int = 40


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


def generated_file(path: Path, make: Callable[[], str]) -> str:
    """The content of the secret file at `path`, generating it with `make()` when there is none. Written
    owner-only from its creation (0600) under a name of its own, then linked into place, which fails when
    the file exists: of processes starting together on a fresh folder one wins and the others read its
    value (never a half-written one)."""
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(make())
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process was first: its value is the one
    finally:
        partial.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def _secret(env: dict[str, str], data_dir: Path) -> bytes:
    raw = env.get("SECRET_KEY", "").strip()
    if raw:
        if len(raw) < 16:
            raise ConfigError("SECRET_KEY", "must be at least 16 characters")
        return raw.encode()
    return generated_file(data_dir / "secret.key", lambda: secrets.token_hex(32)).encode()


def _webhook_secret(env: dict[str, str], data_dir: Path) -> str:
    """WEBHOOK_SECRET, else the one generated into the data folder (webhook.secret) at the first start."""
    raw = env.get("WEBHOOK_SECRET", "").strip()
    if raw:
        if not _WEBHOOK_SECRET_RE.match(raw):
            raise ConfigError("WEBHOOK_SECRET", "must be 16-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return raw
    # letters, digits, - and _: what Telegram allows
    return generated_file(data_dir / "webhook.secret", lambda: secrets.token_urlsafe(48))


def _webhook(env: dict[str, str], data_dir: Path, api_base: str | None) -> WebhookSettings:
    base = env.get("WEBHOOK_URL", "").strip().rstrip("/")
    if not base:
        raise ConfigError("WEBHOOK_URL", "is not set (the public https:// address Telegram posts updates to)")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", base):
        raise ConfigError("WEBHOOK_URL", f"{base!r} is not an http(s) address (e.g. https://bot.example.org)")
    if api_base is None and not base.startswith("https://"):
        raise ConfigError("WEBHOOK_URL", "Telegram posts only to https:// addresses")
    path = env.get("WEBHOOK_PATH", "").strip() or "/telegram/webhook"
    if not _WEBHOOK_PATH_RE.match(path):
        raise ConfigError("WEBHOOK_PATH", f"{path!r} is not a URL path (e.g. /telegram/webhook)")
    port_text = env.get("WEBHOOK_PORT", "").strip() or "8081"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError("WEBHOOK_PORT", f"{port_text!r} is not a TCP port (1-65535), e.g. 8081")
    conn_text = env.get("WEBHOOK_MAX_CONNECTIONS", "").strip() or "40"
    if not conn_text.isdigit() or not 1 <= int(conn_text) <= 100:
        raise ConfigError("WEBHOOK_MAX_CONNECTIONS", f"{conn_text!r} is not a number from 1 to 100 (Telegram's limit)")
    return WebhookSettings(url=base + path, secret=_webhook_secret(env, data_dir),
                           host=env.get("WEBHOOK_HOST", "").strip() or "127.0.0.1", port=int(port_text), path=path,
                           max_connections=int(conn_text))


def environment(environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env"),
                overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The settings' sources merged: the .env file, then the environment, then `overrides`."""
    env = dict(read_dotenv(dotenv)) if dotenv else {}
    env.update(os.environ if environ is None else environ)
    env.update(overrides or {})
    return env


def database_path(env: dict[str, str]) -> Path:
    return Path(env.get("DATABASE_PATH", "").strip() or "data/xuexi.sqlite3")


def folder_of(database: Path) -> Path:
    """Where the generated secrets of the SQLite file `database` live: its folder."""
    return database.parent if str(database.parent) not in ("", ".") else Path(".")


def existing_secret_key(env: dict[str, str], database: Path) -> bytes | None:
    """The SECRET_KEY in force for the data at `database` without generating one (the operator's commands):
    SECRET_KEY, else the secret.key beside the file, else None."""
    if env.get("SECRET_KEY", "").strip():
        return _secret(env, folder_of(database))
    key_file = folder_of(database) / "secret.key"
    return key_file.read_text(encoding="ascii").strip().encode() if key_file.is_file() else None


def load_settings(
    environ: dict[str, str] | None = None,
    *,
    require_token: bool = True,
    webhook: bool = False,
    dotenv: Path | None = Path(".env"),
    overrides: dict[str, str] | None = None,
) -> Settings:
    env = environment(environ, dotenv, overrides)
    token = env.get("BOT_TOKEN", "").strip() or None
    if token is None and require_token:
        raise ConfigError("BOT_TOKEN", "is not set (get one from @BotFather)")
    if token is not None and not _TOKEN_RE.match(token):
        raise ConfigError("BOT_TOKEN", "does not look like a bot token (digits:letters)")

    db = database_path(env)
    if db.exists() and db.is_dir():
        raise ConfigError("DATABASE_PATH", f"{db} is a directory, not a file")
    data_dir = folder_of(db)

    tz_name = env.get("TIMEZONE", "").strip() or "Asia/Shanghai"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("TIMEZONE", f"unknown time zone {tz_name!r} (e.g. Asia/Shanghai)") from None

    operators: set[int] = set()
    for part in re.split(r"[,\s]+", env.get("OPERATOR_IDS", "").strip()):
        if not part:
            continue
        if not part.isdigit():
            raise ConfigError("OPERATOR_IDS", f"{part!r} is not a Telegram user id (comma-separated numbers)")
        operators.add(int(part))

    lang = (env.get("DEFAULT_LANGUAGE", "").strip() or "zh").lower()
    if lang not in LANGUAGES:
        raise ConfigError("DEFAULT_LANGUAGE", f"must be one of {', '.join(LANGUAGES)}")

    api_base = env.get("TELEGRAM_API_URL", "").strip() or None
    if api_base is not None and not re.match(r"^https?://", api_base):
        raise ConfigError("TELEGRAM_API_URL", "must start with http:// or https://")

    offset_text = env.get("CLOCK_OFFSET_SECONDS", "").strip() or "0"
    try:
        clock_offset = float(offset_text)
    except ValueError:
        raise ConfigError("CLOCK_OFFSET_SECONDS",
                          f"{offset_text!r} is not a number of seconds (e.g. 3600 or -90.5)") from None
    if not math.isfinite(clock_offset) or abs(clock_offset) > MAX_CLOCK_OFFSET:
        raise ConfigError("CLOCK_OFFSET_SECONDS", "must be a finite number of seconds within ±100 years")

    paid_text = env.get("OUTBOX_PAID_BROADCAST", "").strip().lower()
    if paid_text not in _TRUE + _FALSE:
        raise ConfigError("OUTBOX_PAID_BROADCAST", f"{paid_text!r} is not on or off (1/0, true/false)")
    paid = paid_text in _TRUE
    rate_text = env.get("OUTBOX_RATE", "").strip() or "25"
    try:
        rate = float(rate_text)
    except ValueError:
        raise ConfigError("OUTBOX_RATE", f"{rate_text!r} is not a number of messages per second (e.g. 25)") from None
    top = MAX_PAID_RATE if paid else MAX_FREE_RATE
    if not math.isfinite(rate) or not 0 < rate <= top:
        hint = "" if paid else " (more needs OUTBOX_PAID_BROADCAST=1, Telegram's paid broadcasts)"
        raise ConfigError("OUTBOX_RATE", f"must be more than 0 and at most {top:g} messages per second{hint}")
    backoff_text = env.get("OUTBOX_BACKOFF_MAX", "").strip() or "300"
    try:
        backoff_max = float(backoff_text)
    except ValueError:
        raise ConfigError("OUTBOX_BACKOFF_MAX", f"{backoff_text!r} is not a number of seconds (e.g. 300)") from None
    if not math.isfinite(backoff_max) or not 0.01 <= backoff_max <= 86400:
        raise ConfigError("OUTBOX_BACKOFF_MAX", "must be from 0.01 to 86400 seconds")
    remind_text = env.get("TASK_REMIND_MINUTES", "").strip() or "120"
    if not remind_text.isdigit() or not 0 < int(remind_text) <= 10080:
        raise ConfigError("TASK_REMIND_MINUTES", f"{remind_text!r} is not a number of minutes from 1 to 10080")
    metrics_text = env.get("METRICS_PORT", "").strip()
    metrics_port = None
    if metrics_text:
        if not metrics_text.isdigit() or not 1 <= int(metrics_text) <= 65535:
            raise ConfigError("METRICS_PORT", f"{metrics_text!r} is not a TCP port (1-65535), e.g. 9108")
        metrics_port = int(metrics_text)
    metrics_host = env.get("METRICS_HOST", "").strip() or "127.0.0.1"
    shared_text = env.get("SHARED_DATABASE", "").strip().lower()
    if shared_text not in _TRUE + _FALSE:
        raise ConfigError("SHARED_DATABASE", f"{shared_text!r} is not on or off (1/0, true/false)")

    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_URL", "must be a PostgreSQL URL, postgresql://user:password@host:port/database")

    return Settings(
        database_url=database_url,
        bot_token=token,
        database_path=db,
        timezone=tz,
        operator_ids=frozenset(operators),
        secret_key=_secret(env, data_dir),
        default_language=lang,
        api_base=api_base,
        data_dir=data_dir,
        clock_offset_seconds=clock_offset,
        outbox_rate=rate,
        outbox_paid_broadcast=paid,
        outbox_backoff_max=backoff_max,
        task_remind_minutes=int(remind_text),
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        webhook=_webhook(env, data_dir, api_base) if webhook else None,
        shared_database=shared_text in _TRUE or database_url is not None,
    )
