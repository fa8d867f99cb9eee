"""The bot's one pacer of calls to Telegram: the outbox's pushes, the countdown edits and the handlers'
direct replies (bot/reply_retry.py) all take their turn in a chat from the same RateLimiter, so a push
waits for the chat's own replies instead of colliding with them (Telegram's one message per second in
a chat), and a reply waits for a push that was just sent there.

Two limits: `chat_interval` seconds between two calls to one chat (every caller), and an overall rate
that only pushes and edits keep (`acquire` / `slot`; a person's replies are not held back by a
broadcast). The overall rate adapts to Telegram (additive increase, multiplicative decrease): when
many pushes are refused for load within a second (`congested()`: a 429 or a 5xx) it halves, at most
once per `CUT_EVERY` seconds and never below `floor`; from a second after the last refusal it grows
back by `configured / RECOVER_SECONDS` each second, so after an outage or a flood wait the sender
comes back to its configured rate gradually, not at once.

The one instance is built with the outbox (bot/outbox.py, `Outbox.limiter`) and handed to the bot
session's request middleware (bot/app.py): there is no module state.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

CUT_EVERY = 1.0         # seconds: several 429s in one second are one congestion signal
RECOVER_SECONDS = 5.0   # seconds from the floor back to the configured rate without a 429/5xx
REFUSED_AT_LEAST = 3    # refusals within a second before the overall rate is cut (one chat's 429 is not) ...
REFUSED_SHARE = 2 / 3   # ... and at least two thirds of a second's sends at the rate kept now
FLOOR = 1.0             # calls per second: the overall rate never falls below this


class RateLimiter:
    """Sends spaced evenly at `per_second` overall and `chat_interval` seconds apart per chat;
    `pause(seconds, chat_id)` holds one chat (a 429's retry_after), `pause(seconds)` everything.

    The per-chat bookkeeping only keeps chats that still constrain a send (their next slot or pause
    lies ahead); older entries are dropped when the tables grow, so memory stays bounded by the
    chats of the last `chat_interval` seconds plus the paused ones."""

    def __init__(self, per_second: float, chat_interval: float, *,
                 monotonic: Callable[[], float] = time.monotonic, prune_at: int = 1024,
                 floor: float = FLOOR) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second  # the configured rate
        self.chat_interval = max(0.0, chat_interval)
        self._floor = min(floor, per_second)
        self._rate = per_second       # the rate kept now (lower after congestion)
        self._rate_at = monotonic()
        self._cut_until = 0.0
        self._cuts = 0
        self._last_refused = -CUT_EVERY
        self._refused: deque[float] = deque()  # when pushes were refused for load in the last second
        self._now = monotonic
        self._next_global = 0.0
        self._paused_until = 0.0
        self._next_chat: dict[int, float] = {}
        # chats whose turn a push took last: a reply waits for those only (see reply_wait)
        self._pushed: set[int] = set()
        self._chat_paused: dict[int, float] = {}
        self._prune_base = prune_at
        self._prune_at = prune_at
        self._in_flight = 0
        # slot()'s window: the calls of any one second never exceed the rate, not even after a stall
        # (edits and pushes share it: the countdown edits + sends stay under the configured rate)
        self._done: deque[float] = deque()  # when the sends of the last second ended (slot())

    # -- the overall rate (AIMD) ---------------------------------------------------------------------
    def rate(self) -> float:
        """The overall rate kept now: the configured one, or less while Telegram pushes back."""
        now = self._now()
        quiet_since = max(self._rate_at, self._last_refused + CUT_EVERY)  # no growth while refusals go on
        if self._rate < self.per_second and now > quiet_since:
            self._rate = min(self.per_second, self._rate + (now - quiet_since) * self.per_second / RECOVER_SECONDS)
        self._rate_at = now
        return self._rate

    def congested(self) -> None:
        """Telegram refused a push for load (429, 5xx). When that happens to most pushes (two thirds
        of a second's sends at the rate kept now, at least 3, within a second: not one chat's 429, not
        a few errors among many sends) the overall rate halves, at most once per CUT_EVERY."""
        now = self._now()
        rate = self.rate()
        self._last_refused = now
        self._refused.append(now)
        while self._refused and self._refused[0] <= now - 1.0:
            self._refused.popleft()
        if now < self._cut_until or len(self._refused) < max(REFUSED_AT_LEAST, rate * REFUSED_SHARE):
            return
        self._refused.clear()
        self._cut_until = now + CUT_EVERY
        self._rate = max(self._floor, rate / 2)
        self._cuts += 1  # the slots handed out at the old rate are taken again at the new one
        self._next_global = now + 1.0 / self._rate

    # -- pauses --------------------------------------------------------------------------------------
    def pause(self, seconds: float, chat_id: int | None = None) -> None:
        until = self._now() + seconds
        if chat_id is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, 0.0), until)

    def paused_for(self, chat_id: int) -> float:
        """Seconds until `chat_id` may be sent to again because of a pause (0: not paused)."""
        return max(0.0, max(self._paused_until, self._chat_paused.get(chat_id, 0.0)) - self._now())

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until the chat's next turn: its pause, or the interval after its last call."""
        now = self._now()
        return max(0.0, self._chat_paused.get(chat_id, 0.0) - now, self._next_chat.get(chat_id, 0.0) - now)

    def reply_wait(self, chat_id: int) -> float:
        """Seconds a direct reply waits in `chat_id`: its pause, or the interval after a push that took
        the chat's turn. A reply does not wait for the chat's earlier replies: a person answered at once
        (Telegram allows a private chat short bursts over one message a second; a 429 there is waited out
        by the reply's own retry), while pushes, which nobody is waiting for, keep the full interval after
        every call to the chat, replies included."""
        if chat_id in self._pushed:
            return self.chat_wait(chat_id)
        return max(0.0, self._chat_paused.get(chat_id, 0.0) - self._now())

    def tracked_chats(self) -> int:
        """How many chats the limiter remembers (bounded; see the class docstring)."""
        return len(self._next_chat) + len(self._chat_paused)

    # -- turns ---------------------------------------------------------------------------------------
    async def acquire(self, chat_id: int) -> None:
        """Waits for this chat's next turn, then for the next overall slot, and takes both. The chat's
        wait comes first and holds no overall slot: a chat busy with replies delays only its own push."""
        while True:
            held = self.paused_for(chat_id)
            if held > 1e-6:
                await asyncio.sleep(held)
                continue
            turn = self._next_chat.get(chat_id, 0.0)
            if turn - self._now() > 1e-6:
                await asyncio.sleep(turn - self._now())
                if self._next_chat.get(chat_id, 0.0) != turn:  # a reply took the chat's turn meanwhile
                    continue
            now = self._now()
            slot = max(now, self._next_global)
            self._next_global = slot + 1.0 / self.rate()
            before = self._next_chat.get(chat_id)
            if self.chat_interval:  # the chat is taken from now: a reply arriving meanwhile waits for it
                self._next_chat[chat_id] = slot + self.chat_interval
                self._pushed.add(chat_id)
            self._prune(now)
            cuts = self._cuts
            if slot > now:
                await asyncio.sleep(slot - now)
                if self._cuts != cuts:  # the rate was cut while this waited: a new slot at the new rate
                    if before is not None and self._next_chat.get(chat_id) == slot + self.chat_interval:
                        self._next_chat[chat_id] = before  # (its own hold on the chat goes with the slot)
                    elif before is None:
                        self._next_chat.pop(chat_id, None)
                    continue
            if self.paused_for(chat_id) <= 1e-6:  # a pause that began meanwhile counts too
                return

    async def chat_turn(self, chat_id: int, max_wait: float) -> float:
        """A direct reply's turn in its chat (the chat's interval and pause, not the overall rate):
        waits at most `max_wait` seconds, then takes the turn. Returns the seconds waited."""
        waited = 0.0
        while True:
            held = self.reply_wait(chat_id)
            if held <= 1e-6 or waited >= max_wait:
                break
            step = min(held, max_wait - waited)
            await asyncio.sleep(step)
            waited += step
        if self.chat_interval:
            self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), self._now() + self.chat_interval)
            self._pushed.discard(chat_id)
        self._prune(self._now())
        return waited

    def ended(self, chat_id: int) -> None:
        """A call to the chat ended: its next turn is a full interval later."""
        if self.chat_interval:
            self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), self._now() + self.chat_interval)

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        """`acquire`, then the call inside the block. Safer against a late event loop than acquire
        alone: a send counts against the rate from its start until a second after it ended, so the
        calls that reach Telegram within any one second stay within the rate even when some were
        delayed on the way (a stalled loop does not release a burst of overdue sends); the chat's
        next turn is a full interval after this call ended."""
        await self.acquire(chat_id)
        while True:  # the window check: rarely binds, the spacing above already keeps the rate
            now = self._now()
            while self._done and self._done[0] <= now - 1.0 + 1e-9:
                self._done.popleft()
            if self._in_flight + len(self._done) < max(1.0, self.rate()):
                break
            await asyncio.sleep(max(1e-3, self._done[0] + 1.0 - now) if self._done else 1.0 / self.rate())
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._done.append(self._now())
            self.ended(chat_id)

    def _prune(self, now: float) -> None:
        if len(self._next_chat) + len(self._chat_paused) <= self._prune_at:
            return
        for table in (self._next_chat, self._chat_paused):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]
        self._pushed &= self._next_chat.keys()
        # amortised: the next sweep waits until the tables have grown again
        self._prune_at = max(self._prune_base, 2 * (len(self._next_chat) + len(self._chat_paused)))
