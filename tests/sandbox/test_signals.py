"""bot/sandbox/state.Signals: a change wakes the waiters of its key (a chat, a callback query) only."""
from __future__ import annotations

import asyncio

from bot.sandbox.state import Signals


async def test_fire_wakes_the_waiters_of_its_key_only() -> None:
    signals = Signals()
    checks = {"a": 0, "b": 0}
    ready = {"a": False, "b": False}

    def predicate(key: str):
        def check() -> bool:
            checks[key] += 1
            return ready[key]
        return check

    wait_a = asyncio.create_task(signals.wait_for("a", predicate("a"), 5, lambda: False))
    wait_b = asyncio.create_task(signals.wait_for("b", predicate("b"), 5, lambda: False))
    await asyncio.sleep(0.01)
    assert checks == {"a": 1, "b": 1}
    for _ in range(3):  # changes in chat b: a's waiter does not look again
        signals.fire("b")
        await asyncio.sleep(0.01)
    assert checks["a"] == 1 and checks["b"] == 4
    ready["a"] = True
    signals.fire("a")
    assert await wait_a is True
    signals.fire_all()  # (the sandbox closing) wakes the rest
    ready["b"] = True
    assert await wait_b is True
    assert signals._by_key == {}  # nobody waits: nothing kept


async def test_a_waiter_times_out_with_the_predicate() -> None:
    signals = Signals()
    assert await signals.wait_for(1, lambda: False, 0.01, lambda: False) is False
    assert signals._by_key == {}
