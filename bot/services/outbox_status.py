"""Who pushes cannot reach: people who blocked the bot (a 403), until they write to it again.
Other features use this to show people as unreachable (e.g. a task's delivered/unreachable counts)."""
from __future__ import annotations

from collections.abc import Iterable

from bot.store import Store


async def unreachable_user_ids(store: Store, user_ids: Iterable[int]) -> set[int]:
    """The ids among `user_ids` whose last push was refused because they blocked the bot."""
    return await store.unreachable_among(list(user_ids))


async def push_counts(store: Store) -> dict[str, int]:
    """Pushes per status: pending, sending, sent, failed, unreachable, skipped_unreachable."""
    return await store.push_counts()
