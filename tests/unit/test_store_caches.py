"""The store's write-through caches and the quiz answers' group commit: what a reader gets is what
a cold reader of the database file gets, after every kind of write."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.models import User
from bot.store import Store
from tests.support.factories import make_user
from tests.support.pg import committed
from tests.support.quiz_factories import make_bank

NOW = "2026-11-23T09:00:00+08:00"


async def cold(database, read):
    """The same read through a second, cache-less store on the same database."""
    other = await Store.open(database)
    try:
        return await read(other)
    finally:
        await other.close()


def visitor(user_id: int) -> User:
    return User(id=user_id, first_name="王", last_name=None, username=None, tg_language="zh", language=None,
                phone=None, name=None, org_name=None, registered_at=None, real_name=None, id_masked=None,
                verified_at=None)


async def test_user_cache_follows_language_registration_and_verification(store, database):
    assert await store.get_user(7) is None  # "no row" is remembered too
    await store.set_language(visitor(7), "en", NOW)
    assert (await store.get_user(7)).language == "en"
    await store.complete_registration(await store.get_user(7), "+8613800000007", "王芳", None, NOW)
    user = await store.get_user(7)
    assert (user.registered, user.phone, user.name) == (True, "+8613800000007", "王芳")
    await store.set_verification(7, "王芳", "hash-7", "1101**********0007", NOW)
    assert (await store.get_user(7)).verified
    await store.update_tg_profile(replace(user, first_name="芳"), NOW)
    assert (await store.get_user(7)).first_name == "芳"
    assert await store.get_user(7) == await cold(database, lambda s: s.get_user(7))


async def test_admin_roles_cache_follows_every_admin_change(store, database):
    for uid in (1, 2):
        await make_user(store, uid, verified=True)
    assert await store.admin_org_ids(2) == (frozenset(), frozenset())
    org = await store.create_org(1, "party", "县委宣传部", "某县", NOW)
    assert await store.admin_org_ids(1) == ({org}, {org}) and await store.admin_org_ids(2) == (frozenset(), frozenset())
    await store.add_org_admin(1, org, 2, "2", NOW)
    assert await store.admin_org_ids(2) == ({org}, frozenset())
    await store.hand_over_main_admin(1, org, 2, "2", NOW)
    assert await store.admin_org_ids(2) == ({org}, {org}) and await store.admin_org_ids(1) == ({org}, frozenset())
    await store.hand_over_main_admin(2, org, 1, "1", NOW)
    await store.remove_org_admin(1, org, 2, "2", NOW)
    assert await store.admin_org_ids(2) == (frozenset(), frozenset())
    await store.dissolve_org(1, org, NOW)
    assert await store.admin_org_ids(1) == (frozenset(), frozenset())
    assert await store.admin_org_ids(1) == await cold(database, lambda s: s.admin_org_ids(1))


async def test_writes_made_outside_the_store_are_seen_after_raw_tx(store):
    await make_user(store, 1)
    assert (await store.get_user(1)).name == "张伟"
    async with store.raw_tx() as db:
        await db.execute("UPDATE users SET name = '李娜' WHERE id = 1")
    assert (await store.get_user(1)).name == "李娜"


async def open_attempt(store: Store, user_id: int, n: int = 3) -> int:
    bank = await make_bank(store, n, prefix=f"u{user_id}-")
    return await store.create_attempt(user_id, "daily", NOW[:10], list(bank), NOW)


async def test_attempt_cache_equals_the_database_after_answers_moves_and_submit(store, database):
    await make_user(store, 1)
    attempt = await open_attempt(store, 1)
    head, items = await store.quiz_view(attempt)
    assert (head.position, list(items)) == (0, [0])
    assert await store.record_answer(attempt, 0, ["B"], False, 3000, False, NOW, to_position=1, shown_at=NOW)
    assert await store.record_answer(attempt, 1, ["B"], True, 500, True, NOW, to_position=2, shown_at=NOW)
    assert await store.move_attempt(attempt, 2, 0, NOW)
    view = await store.quiz_view(attempt, (0, 1))
    assert view[0].position == 0 and view[0].flagged and view[1][0].answer == ("B",) and view[1][1].correct
    assert view == await cold(database, lambda s: s.quiz_view(attempt, (0, 1)))
    assert await store.close_attempt(attempt, NOW, leave_wrongbook_after=2)
    head, _ = await store.quiz_view(attempt)
    assert (head.status, head.correct) == ("submitted", 1)
    assert await store.quiz_view(attempt) == await cold(database, lambda s: s.quiz_view(attempt))


async def test_a_press_for_a_position_no_longer_shown_writes_nothing(store, database):
    await make_user(store, 1)
    attempt = await open_attempt(store, 1)
    await store.quiz_view(attempt)
    assert await store.record_answer(attempt, 0, ["A"], True, 2000, False, NOW, to_position=1, shown_at=NOW)
    assert not await store.record_answer(attempt, 0, ["C"], False, 2000, False, NOW, to_position=1, shown_at=NOW)
    head, items = await store.quiz_view(attempt, (0,))
    assert head.position == 1 and items[0].answer == ("A",)
    assert (head, items) == await cold(database, lambda s: s.quiz_view(attempt, (0,)))


async def test_concurrent_answers_share_commits_and_all_land(store, database):
    users = range(1, 41)
    attempts = []
    for uid in users:
        await make_user(store, uid)
        attempts.append(await open_attempt(store, uid, 2))
    commits = 0
    real = store._commit_pending

    async def counting() -> None:
        nonlocal commits
        commits += 1
        await real()

    store._commit_pending = counting
    results = await asyncio.gather(*(store.record_answer(a, 0, ["A"], True, 2000, False, NOW, to_position=1,
                                                         shown_at=NOW) for a in attempts))
    assert results == [True] * 40
    assert commits < 40  # grouped: the answers that arrived together were committed together
    assert committed(database, "SELECT COUNT(*) FROM quiz_items WHERE answer = '[\"A\"]'") == [(40,)]
    assert committed(database, "SELECT COUNT(*) FROM quiz_attempts WHERE position = 1") == [(40,)]


async def test_a_failing_write_in_a_group_is_undone_alone(store, database):
    await make_user(store, 1)
    await make_user(store, 2)

    def rename(user_id: int, name: str, fail: bool):
        def write(conn):
            conn.execute("UPDATE users SET name = ? WHERE id = ?", (name, user_id))
            if fail:
                raise ValueError("refused")
            return name
        return write

    seen: list[str] = []
    good = store._write_batched(rename(1, "甲", False), seen.append)
    bad = store._write_batched(rename(2, "乙", True), seen.append)
    later = store._write_batched(rename(2, "丙", False), seen.append)
    results = await asyncio.gather(good, bad, later, return_exceptions=True)
    assert results[0] == "甲" and isinstance(results[1], ValueError) and results[2] == "丙"
    assert seen == ["甲", "丙"]  # `after` runs for the writes that were kept only
    assert committed(database, "SELECT id, name FROM users ORDER BY id") == [(1, "甲"), (2, "丙")]


@pytest.mark.parametrize("kind", ["expire", "points"])
async def test_other_attempt_writes_forget_the_cached_attempt(store, database, kind):
    await make_user(store, 1)
    attempt = await open_attempt(store, 1)
    await store.quiz_view(attempt)
    if kind == "expire":
        await store.expire_attempt(attempt)
    else:
        await store.set_attempt_points(attempt, 4)
    assert await store.quiz_view(attempt) == await cold(database, lambda s: s.quiz_view(attempt))


async def test_a_corrected_key_reaches_open_attempts_at_once(store, database):
    await make_user(store, 1)
    attempt = await open_attempt(store, 1, 1)
    _, items = await store.quiz_view(attempt)
    question = items[0].question
    assert question.answer == ("A",)
    row = await store._one("SELECT kind, body, tags, fingerprint FROM questions WHERE id = ?", (question.id,))
    assert await store.add_questions(None, None, [(row["kind"], row["body"], '["C"]', row["tags"], row["fingerprint"])],
                                     NOW) == (0, 1, 0, 1)
    _, items = await store.quiz_view(attempt)
    assert items[0].question.answer == ("C",)
    assert await store.quiz_view(attempt) == await cold(database, lambda s: s.quiz_view(attempt))
