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
