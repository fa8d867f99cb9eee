"""aiogram's FSM state and data, kept in the store so a half-done conversation survives a restart."""
from __future__ import annotations

import json
from typing import Any

from bot.repositories.base import Repository


class FsmRepository(Repository):
    async def fsm_get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        """(state, data): the data is the flow's own JSON object, handed to aiogram as it was stored."""
        row = await self._one("SELECT state, data FROM fsm WHERE key = ?", (key,))
        if row is None:
            return None, {}
        data: dict[str, Any] = json.loads(row["data"])
        return row["state"], data

    async def fsm_set_state(self, key: str, state: str | None) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                (key, state),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))

    async def fsm_set_data(self, key: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO fsm (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (key, payload),
            )
            await db.execute("DELETE FROM fsm WHERE key = ? AND state IS NULL AND data = '{}'", (key,))
