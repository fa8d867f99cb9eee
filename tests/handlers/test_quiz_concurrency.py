"""200 members answer at once through the dispatcher: each attempt is independent, and every ledger
total equals the member's correct answers within the daily cap, with no duplicate payment."""
from __future__ import annotations

import asyncio
import random

from tests.handlers.test_quiz import option
from tests.support.factories import make_user
from tests.support.quiz_factories import make_bank

MEMBERS = 200
BASE = 500000


async def _round(client, store, rng: random.Random) -> int:
    """One daily round: answers each question (right or wrong at random), submits twice at once."""
    shown = await client.send("/quiz")
    head = await store.open_attempt(client.user_id, "daily")
    right = 0
    for pos in range(head.total):
        _, items = await store.quiz_view(head.id, (pos,))
        letter = items[pos].question.answer[0]
        if rng.random() < 0.6:
            right += 1
        else:
            letter = "A" if letter != "A" else "B"
        shown = await client.press(shown, option(shown, letter))
    # a double tap: both presses see the question as it is now
    await asyncio.gather(client.press(shown, "📤 交卷"), client.press(shown, "📤 交卷"))
    return right


async def test_learn_7_two_hundred_members_at_once_pay_exactly_their_capped_answers(store, clock, client_factory):
    await make_bank(store, 12)
    for i in range(MEMBERS):
        await make_user(store, BASE + i, f"成员{i}")
    clients = [client_factory(BASE + i, f"成员{i}") for i in range(MEMBERS)]

    async def member(client) -> int:
        rng = random.Random(client.user_id)
        return await _round(client, store, rng) + await _round(client, store, rng)

    rights = await asyncio.gather(*(member(c) for c in clients))
    rows = await store._all("SELECT user_id, SUM(amount) AS total, COUNT(*) AS n FROM points "
                            "WHERE source = 'daily' GROUP BY user_id")
    paid = {r["user_id"]: (r["total"], r["n"]) for r in rows}
    for client, right in zip(clients, rights):
        total, n = paid.get(client.user_id, (0, 0))
        assert total == min(right, 5), (client.user_id, right, total)
        assert n <= 2  # at most one ledger row per round
    attempts = await store._all("SELECT user_id, COUNT(*) AS n, SUM(correct) AS c, SUM(points) AS p "
                                "FROM quiz_attempts WHERE status = 'submitted' GROUP BY user_id")
    assert len(attempts) == MEMBERS
    for row, right in zip(sorted(attempts, key=lambda r: r["user_id"]), rights):
        assert row["n"] == 2 and row["c"] == right and row["p"] == min(right, 5)
    keys = await store._all("SELECT idem_key, COUNT(*) AS n FROM points GROUP BY idem_key HAVING COUNT(*) > 1")
    assert keys == []
