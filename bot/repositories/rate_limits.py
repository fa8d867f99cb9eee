"""What the per-person limits count (bot/services/rate_limits.py): when a person last did an action
that notifies others, read from the rows the action wrote, so that the count holds across restarts
and processes. Newest first, at most `n`: each query walks the person's rows from the newest and stops."""
from __future__ import annotations

from collections.abc import Iterable

from bot.repositories.base import Repository, marks

_LATEST = {
    "manuscript": "SELECT created_at FROM manuscripts WHERE author_id = ? ORDER BY id DESC LIMIT ?",
    "task": "SELECT created_at FROM tasks WHERE created_by = ? ORDER BY id DESC LIMIT ?",
    "cert_application": "SELECT created_at FROM cert_applications WHERE applicant_id = ? ORDER BY id DESC LIMIT ?",
}


class RateLimitsRepository(Repository):
    async def latest_actions(self, action: str, user_id: int, n: int) -> list[str]:
        """The times (as stored) of the person's `n` latest actions of that kind."""
        rows = await self._all(_LATEST[action], (user_id, n))
        return [r[0] for r in rows]

    async def latest_reminders(self, user_id: int, org_ids: Iterable[int], n: int) -> list[str]:
        """The times of the person's `n` latest manual task reminders (audit rows of the organisations
        they administer: the only ones they can remind in, read through the log's organisation index)."""
        ids = sorted(set(org_ids))
        if not ids:
            return []
        rows = await self._all(
            f"SELECT at FROM audit_log WHERE org_id IN ({marks(ids)}) AND actor_id = ? AND action = 'task.remind' "
            "ORDER BY id DESC LIMIT ?", (*ids, user_id, n))
        return [r[0] for r in rows]
