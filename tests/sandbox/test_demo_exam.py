"""`--demo` includes one open special exam of the demo organisation (LEARN-6): a newcomer sees it in /exams."""
from __future__ import annotations

from types import SimpleNamespace

from bot.sandbox.demo import DEMO_EXAM, seed_demo_data


async def test_learn_6_demo_member_sees_the_open_demo_exam(store, clock, settings, client_factory):
    await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings))
    await seed_demo_data(SimpleNamespace(store=store, clock=clock, settings=settings))
    assert [tuple(r) for r in await store._all("SELECT title, status FROM exams")] == [(DEMO_EXAM, "published")]
    listing = await client_factory(100002, "李娜").send("/exams")
    assert DEMO_EXAM in listing.text and "开放中" in listing.text
    rules = await client_factory(100002, "李娜").press(listing, "参加")
    assert "共 5 题，限时 10 分钟" in rules.text
