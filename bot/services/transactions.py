"""One transaction per action, pushes included (DESIGN "Pushes", "Errors").

    async with atomic(ctx.store):
        done = await svc.some_action(ctx.store, ...)
        await ctx.outbox.enqueue(*pushes_for(done))
    await message.answer(...)  # the person's own reply: after the block

Every store write the current task makes inside the block, and the pushes it enqueues, commit
together at its end or roll back together on any error: a crash or a failing push builder leaves no
half of an action. Other tasks wait for the commit, so nothing slow belongs inside: no Bot API call
(send, edit, answer), only the action, the reads it needs and the pushes it causes."""
from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from bot.store import Store


def atomic(store: Store) -> AbstractAsyncContextManager[None]:
    """The store's atomic block (Store.atomic): nested blocks join the outer one."""
    return store.atomic()
