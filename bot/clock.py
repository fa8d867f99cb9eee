"""Time as an injected object so tests can control it."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    def timestamp(self) -> int:
        return int(self.now().timestamp())


class FakeClock(Clock):
    """A clock that stands still until moved."""

    def __init__(self, tz: ZoneInfo, start: datetime | None = None) -> None:
        super().__init__(tz)
        self._now = (start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)).astimezone(tz)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(self.tz)


class MovableClock(Clock):
    """Real time plus an offset: time keeps running, and the sandbox (or a test) can move it.

    The bot's own clock; its start offset comes from CLOCK_OFFSET_SECONDS, so a bot process started
    against a `--no-bot` sandbox runs at the sandbox's moved time."""

    def __init__(self, tz: ZoneInfo, offset_seconds: float = 0.0) -> None:
        super().__init__(tz)
        self._offset = timedelta(seconds=offset_seconds)

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def now(self) -> datetime:
        return datetime.now(self.tz) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """From now on the clock reads `when` (aware; a naive time is taken in the clock's zone)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        self._offset = when - datetime.now(UTC)
