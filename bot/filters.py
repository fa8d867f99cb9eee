"""Role filters, set once per router (the role is the one loaded for this very update, SEC-4), and
synchronous filters run in place rather than in a worker thread."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.services.roles import Actor


class Registered(Filter):
    """`registered` or not; with `or_states`, also anyone whose FSM state is one of them (registration's
    last step is still the state of a person whose registration committed just before the bot was killed:
    the update handled again at start must reach that step to tell them)."""

    def __init__(self, registered: bool = True, *, or_states: frozenset[str] = frozenset()) -> None:
        self.registered = registered
        self.or_states = or_states

    async def __call__(self, event: TelegramObject, actor: Actor | None = None, raw_state: str | None = None,
                       **_: Any) -> bool:
        if actor is None:
            return False
        return actor.registered == self.registered or raw_state in self.or_states


class Shown(Filter):
    """A button press on a message the bot can still reach (not an InaccessibleMessage: deleted, or too
    old for Telegram to send): the handler receives it as `message: Message`, so callback handlers
    need no `if query.message` of their own. Set once on the callback routers; a press this refuses
    goes on to the fallback, which answers that the button is no longer valid."""

    async def __call__(self, query: CallbackQuery) -> bool | dict[str, Any]:
        return {"message": query.message} if isinstance(query.message, Message) else False


def resolve_filters_inline(root: Router) -> int:
    """aiogram runs every synchronous filter (a magic filter such as `F.text`, a `State`) in a worker
    thread, as it runs any synchronous callable. Ours are all pure look-ups on the event: the thread
    hop costs far more than they do, and under load it waits for the GIL. Each such filter of `root`
    and the routers below it is made a coroutine that calls it in place. Returns how many changed.
    (A filter that does I/O must be written as a coroutine in the first place.)"""
    changed = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for fo in handler.filters or ():
                    if not fo.awaitable:
                        fo.callback, fo.awaitable = _inline(fo.callback), True
                        changed += 1
    return changed


def _inline(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def in_place(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return in_place
