"""aiogram FSM storage kept in the store, so a half-done flow survives a restart."""
from __future__ import annotations

from typing import Any, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.store import Store


def _key(key: StorageKey) -> str:
    return ":".join(str(p) for p in (key.bot_id, key.chat_id, key.user_id, key.thread_id,
                                      key.business_connection_id, key.destiny))


class StoreStorage(BaseStorage):
    def __init__(self, store: Store) -> None:
        self.store = store

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self.store.fsm_set_state(_key(key), value)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self.store.fsm_get(_key(key))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.store.fsm_set_data(_key(key), dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self.store.fsm_get(_key(key))
        return data

    async def close(self) -> None:  # the store is closed by its owner
        return None
