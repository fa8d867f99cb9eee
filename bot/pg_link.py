"""The one place bot/pg.py gets a live PostgreSQL connection from, so that a restart or a failover of the
server is survived without restarting the bot (a pool with pre-ping can take this module's place).

- `live()`: the connection to use now. One known closed is replaced by a new one; one idle for more
  than `ping_after` seconds is pinged first (SELECT 1 within `ping_timeout`) and replaced when the
  ping fails (a connection whose server went away unseen, as after a failover).
- Reconnecting waits at most `connect_timeout` seconds. After a failed attempt the next one comes
  after a back-off (`retry_first` doubling up to `retry_max`); calls in between fail at once. Either
  way the caller gets DatabaseUnavailable, never a wait without end.
- `lost(exc)`: whether a statement's error means the connection is gone (then it is dropped; the
  caller's transaction was not committed).
- LISTEN channels are registered again on every new connection, and each listener is called once
  then: a notification sent while the connection was down is lost, so the listener looks for itself.
- One log line when an outage starts and one when the connection is back, not one per failed call.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from bot.repositories.base import DatabaseUnavailable

log = logging.getLogger("bot.pg")

# asyncpg's errors that mean the connection (or the server behind it) is gone: a server shutting down
# or restarting ("terminating connection due to administrator command", "the database system is
# shutting down / starting up"), a connection lost (08xxx), the socket reset or refused; and asyncpg's
# protocol left in a state it cannot go on from (seen when a fast shutdown's notice reaches an idle
# connection: "cannot switch to state 15; another operation (2) is in progress")
GONE = (OSError, asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
        asyncpg.CannotConnectNowError, asyncpg.InternalClientError)


class Link:
    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], conn: asyncpg.Connection, *,
                 ping_after: float = 2.0, ping_timeout: float = 5.0, connect_timeout: float = 5.0,
                 retry_first: float = 0.1, retry_max: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = conn
        self.ping_after = ping_after
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._monotonic = monotonic
        self._used_at = monotonic()
        self._retry_at = 0.0  # no attempt to reconnect before then
        self._delay = retry_first
        self._down_since: float | None = None  # monotonic: when the outage began (None: up)
        self._reason = ""
        self._listeners: dict[str, Callable[[], None]] = {}
        self._reconnecting = asyncio.Lock()
        self.closed = False

    @property
    def current(self) -> asyncpg.Connection | None:
        """The connection as it is (inside a transaction: the transaction's own)."""
        return self._conn

    @property
    def down(self) -> bool:
        """The database could not be reached at the last try (until a connection is made again)."""
        return self._down_since is not None

    async def live(self) -> asyncpg.Connection:
        """A connection that answers (see the module's doc); DatabaseUnavailable when there is none."""
        conn = self._conn
        if conn is not None and not conn.is_closed():
            if self._monotonic() - self._used_at < self.ping_after:
                self._used_at = self._monotonic()
                return conn
            try:  # idle a while: does it still answer?
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self.ping_timeout)
                self._used_at = self._monotonic()
                return conn
            except (TimeoutError, asyncpg.InterfaceError, *GONE) as exc:
                self._drop(exc)
        async with self._reconnecting:  # one attempt at a time; the others see its outcome
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            return await self._reconnect()

    async def _reconnect(self) -> asyncpg.Connection:
        if self.closed:
            raise DatabaseUnavailable("the connection was closed")
        if self._monotonic() < self._retry_at:
            raise DatabaseUnavailable(f"the database is unavailable: {self._reason}")
        try:
            conn = await asyncio.wait_for(self._connect(), self.connect_timeout)
        except Exception as exc:
            self._retry_at = self._monotonic() + self._delay
            self._delay = min(self.retry_max, self._delay * 2)
            self._outage(exc)
            raise DatabaseUnavailable(f"the database is unavailable: {self._reason}") from exc
        try:
            for channel, callback in self._listeners.items():
                await conn.add_listener(channel, _caller(callback))
        except Exception as exc:
            await _close_quietly(conn)
            self._outage(exc)
            raise DatabaseUnavailable(f"the database is unavailable: {self._reason}") from exc
        self._conn, self._used_at, self._delay, self._retry_at = conn, self._monotonic(), self.retry_first, 0.0
        if self._down_since is not None:
            log.warning("database reachable again after %.1f s: connection reopened",
                        self._monotonic() - self._down_since)
            self._down_since = None
        for callback in list(self._listeners.values()):  # what was notified meanwhile is looked for now
            callback()
        return conn

    def lost(self, exc: BaseException) -> bool:
        """Whether `exc`, raised by a statement, means the connection is gone; if so it is dropped."""
        conn = self._conn
        gone = isinstance(exc, GONE) or (
            isinstance(exc, asyncpg.InterfaceError) and (conn is None or conn.is_closed()
                                                         or "connection is closed" in str(exc)))
        if gone:
            self._drop(exc)
        return gone

    def _drop(self, exc: BaseException) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()  # no goodbye to a server that is not there
        self._outage(exc)

    def _outage(self, exc: BaseException) -> None:
        self._reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if self._down_since is None:
            self._down_since = self._monotonic()
            log.warning("database unavailable (%s): statements fail until it is back; reconnecting", self._reason)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """`callback()` on every notify on `channel`, on this connection and every later one (also when
        there is none now: DatabaseUnavailable is raised, and the channel is listened to on the next)."""
        self._listeners[channel] = callback
        conn = await self.live()
        await conn.add_listener(channel, _caller(callback))

    async def close(self) -> None:
        self.closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close_quietly(conn)


def _caller(callback: Callable[[], None]) -> Callable[..., None]:
    return lambda *_: callback()


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except Exception:  # noqa: BLE001 - a server away: the socket goes anyway
        conn.terminate()
