"""Facts about the deployment itself (the `deployment` table, one row per name): today the fingerprint of
the SECRET_KEY its data was made with (bot/services/keys.py)."""
from __future__ import annotations

from bot.repositories.base import Repository

KEY_FINGERPRINT = "key_fingerprint"  # the fingerprint of the SECRET_KEY the data was made with


class DeploymentRepository(Repository):
    async def deployment_fact(self, name: str) -> str | None:
        row = await self._one("SELECT value FROM deployment WHERE name = ?", (name,))
        return None if row is None else str(row["value"])

    async def keep_deployment_fact(self, name: str, value: str) -> str:
        """Records `value` under `name` unless a value is there already; returns the one recorded (of
        processes starting together, the first's)."""
        async with self._tx() as db:
            await db.execute("INSERT INTO deployment (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                             (name, value))
        found = await self.deployment_fact(name)
        return value if found is None else found
