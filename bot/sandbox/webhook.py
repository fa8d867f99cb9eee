"""The sandbox's webhook side: after setWebhook the queued updates are POSTed to the bot as Telegram does.

- Each update is one POST of its JSON with `X-Telegram-Bot-Api-Secret-Token` (when a secret was set).
- A 2xx answer confirms it (it leaves the queue); anything else, a connection failure or no answer
  within `timeout` is retried with exponential backoff, never dropped, and recorded as the
  webhook's last error (getWebhookInfo's last_error_date / last_error_message).
- One chat's updates go in order: the next waits until the one before it was confirmed (retries
  included); other chats' updates go meanwhile, at most `max_connections` requests in flight.
- Updates of a type not in `allowed_updates` are not delivered (Telegram does not produce them).
- A fail rule for the method "webhook" (POST /sandbox/faults, `{"method": "webhook", "status": 500}`)
  makes a delivery fail *after* the bot answered it, as a proxy in front of the bot answering 500 would:
  Telegram then delivers the same update again, which the bot must handle once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.sandbox.state import SandboxState

log = logging.getLogger("bot.sandbox.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's default when allowed_updates is not given: every type but these
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class Backoff:
    first: float = 0.5   # seconds before the first retry
    factor: float = 2.0
    most: float = 5.0    # the longest wait between two tries

    def delay(self, failures: int) -> float:
        return min(self.first * self.factor ** max(failures - 1, 0), self.most)


@dataclass
class WebhookSetup:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0  # updates confirmed by a 2xx answer
    failures: int = 0   # deliveries that failed (each retried)

    def allows(self, update: dict[str, Any]) -> bool:
        kind = update_kind(update)
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in NOT_BY_DEFAULT

    def info(self, pending: int) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "has_custom_certificate": False, "pending_update_count": pending,
                               "max_connections": self.max_connections}
        if self.allowed_updates is not None:
            out["allowed_updates"] = list(self.allowed_updates)
        if self.last_error_date is not None:
            out["last_error_date"] = self.last_error_date
            out["last_error_message"] = self.last_error_message
        return out


def update_kind(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def chat_key(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its order is kept within it); None: an update of no chat."""
    body = update.get(update_kind(update))
    if not isinstance(body, dict):
        return None
    for holder in (body.get("chat"), (body.get("message") or {}).get("chat"), body.get("from")):
        if isinstance(holder, dict) and isinstance(holder.get("id"), int):
            return int(holder["id"])
    return None


@dataclass
class WebhookDelivery:
    """Runs while a webhook is set: one loop picking what may go now, one task per POST."""

    state: SandboxState
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float = 60.0  # Telegram waits about this long for the bot's answer
    _loop_task: asyncio.Task[None] | None = None
    _in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # update_id -> its POST
    _failures: dict[int, int] = field(default_factory=dict)  # update_id -> failed tries so far
    _retry_at: dict[int, float] = field(default_factory=dict)  # update_id -> loop time of its next try
    _session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-webhook")
        self.state.webhook_signal.fire()

    def stop(self) -> None:
        """Stops delivering (deleteWebhook, shutdown); what was not confirmed stays queued."""
        for task in [self._loop_task, *self._in_flight.values()]:
            if task is not None:
                task.cancel()
        self._loop_task = None
        self._in_flight.clear()
        self._retry_at.clear()
        self._failures.clear()

    async def close(self) -> None:
        """Stops delivering and closes the HTTP client (the sandbox app's cleanup)."""
        self.stop()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.state.closed:
            setup = self.state.webhook
            if setup is None:
                return
            wake = self.state.webhook_signal.waiter()  # taken before looking: a change meanwhile wakes us
            now = loop.time()
            next_try: float | None = None
            held: set[int] = set()  # chats whose earliest queued update is not confirmed yet
            for update in list(self.state.updates):
                if len(self._in_flight) >= setup.max_connections:
                    break
                uid = update["update_id"]
                if not setup.allows(update):
                    self.state.updates.remove(update)  # Telegram would not have produced it
                    continue
                chat = chat_key(update)
                if chat is not None:
                    if chat in held:
                        continue
                    held.add(chat)
                if uid in self._in_flight:
                    continue
                at = self._retry_at.get(uid)
                if at is not None and at > now:
                    next_try = at if next_try is None else min(next_try, at)
                    continue
                self._in_flight[uid] = loop.create_task(self._post(setup, update), name=f"webhook-{uid}")
            timeout = None if next_try is None else max(next_try - loop.time(), 0.0)
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _post(self, setup: WebhookSetup, update: dict[str, Any]) -> None:
        uid = update["update_id"]
        error: str | None = None
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            headers = {"Content-Type": "application/json"}
            if setup.secret_token:
                headers[SECRET_HEADER] = setup.secret_token
            body = json.dumps(update, ensure_ascii=False).encode()
            async with self._session.post(setup.url, data=body, headers=headers) as resp:
                await resp.read()
                status, reason = resp.status, resp.reason or ""
            forced = self.state.take_webhook_fault()
            if forced is not None:
                status, reason = forced
            if not 200 <= status < 300:
                error = f"Wrong response from the webhook: {status} {reason}".rstrip()
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {type(exc).__name__}"
        finally:
            self._in_flight.pop(uid, None)
        if error is None:
            if update in self.state.updates:
                self.state.updates.remove(update)
            self._failures.pop(uid, None)
            self._retry_at.pop(uid, None)
            setup.delivered += 1
        else:
            failures = self._failures.get(uid, 0) + 1
            self._failures[uid] = failures
            self._retry_at[uid] = asyncio.get_running_loop().time() + self.backoff.delay(failures)
            setup.failures += 1
            setup.last_error_date, setup.last_error_message = int(time.time()), error
            log.info("webhook delivery of update %d failed (%s); try %d in %.1f s", uid, error, failures + 1,
                     self.backoff.delay(failures))
        self.state.webhook_signal.fire()
