"""aiogram FSM storage kept in the store, so a half-done flow survives a restart.

Reads are served from a bounded write-through cache: the bot process is the only writer of its
database (DESIGN: one bot, one scheduler per database), so what it last wrote is what is stored,
and the hot path of a quiz answer does not pay a database read for the FSM state.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.store import Store


def _key(key: StorageKey) -> str:
    return ":".join(str(p) for p in (key.bot_id, key.chat_id, key.user_id, key.thread_id,
                                      key.business_connection_id, key.destiny))


class StoreStorage(BaseStorage):
    def __init__(self, store: Store, cache_size: int = 10_000) -> None:
        self.store = store
        self._cache: OrderedDict[str, tuple[str | None, dict[str, Any]]] = OrderedDict()
        self._cache_size = 0 if store.shared else cache_size  # PostgreSQL: other processes write it too

    async def _get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        hit = self._cache.get(key)
        if hit is None:
            hit = await self.store.fsm_get(key)
            self._remember(key, hit)
        else:
            self._cache.move_to_end(key)
        return hit

    def _remember(self, key: str, value: tuple[str | None, dict[str, Any]]) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        k = _key(key)
        await self.store.fsm_set_state(k, value)
        _, data = await self._get(k)
        self._remember(k, (value, data))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._get(_key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        k = _key(key)
        await self.store.fsm_set_data(k, dict(data))
        state, _ = await self._get(k)
        # kept as the store keeps it (a JSON round trip), so a cached read equals a cold one
        self._remember(k, (state, json.loads(json.dumps(dict(data), ensure_ascii=False))))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps((await self._get(_key(key)))[1], ensure_ascii=False))
        return data

    async def close(self) -> None:  # the store is closed by its owner
        return None
