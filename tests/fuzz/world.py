"""The world the fuzz tests run in, and routes: how a person reaches a place in a flow (commands, presses
by label, typed steps), written as a list of steps and played by `World.play`.

    "@member"      the next steps are this person's (admin, member, other, visitor, multi, operator)
    "/members"     a command
    "»🔍 搜索"      presses the newest button whose label is (or contains) this
    "t:张三"        types this text
    "c:8613800"    shares this phone number as a contact ("c:own": a phone of the person's own)
    a callable     `await step(world)` for what a list cannot say (a link read from a message)
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz.harness import OPERATOR_ID, Env
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_question
from tests.support.recording import ChatClient, Sent

ADMIN, MEMBER, OTHER, MULTI, LOWER_ADMIN = 700001, 700003, 700004, 700006, 700007
VISITOR = 780001  # and up: a new visitor per registration example
ORG, OTHER_ORG, THIRD_ORG, LOWER_ORG = "研发测试党支部", "外单位学习组织", "第三学习组织", "下级党支部"
GENERAL, BRANCH = "机关党总支", "第一党支部"
PEOPLE = {"admin": ADMIN, "member": MEMBER, "other": OTHER, "visitor": VISITOR, "multi": MULTI,
          "operator": OPERATOR_ID, "lower": LOWER_ADMIN}
TOUR = {"admin": ["/start", "/members", "/org", "/tasks", "/activity", "/exams", "/review", "/applications",
                   "/audit", "/orgreport", "/reportsettings", "/rank", "/certify", "/invite", "/cancel"],
        "member": ["/start", "/rank", "/tasks", "/exams", "/manuscript", "/records", "/wrongbook"],
        "other": ["/start", "/org", "/certify", "/applications"]}
Step = str | Callable[["World"], Awaitable[Any]]


@dataclass
class World:
    env: Env
    ids: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=lambda: dict(PEOPLE))
    clients: dict[str, ChatClient] = field(default_factory=dict)
    current: str = "admin"
    last: Sent | None = None

    def client(self, who: str | None = None) -> ChatClient:
        who = who or self.current
        if who not in self.clients:
            self.clients[who] = self.env.client(self.people[who])
        return self.clients[who]

    def new_visitor(self) -> None:
        """The next steps of "@visitor" are a new person's (a registration cannot be undone)."""
        self.people["visitor"] += 1
        self.clients.pop("visitor", None)

    async def setup(self) -> None:
        store = self.env.store
        await make_user(store, ADMIN, "李管理", verified=True)
        member_phone = await make_user(store, MEMBER, "王芳")
        await make_user(store, OTHER, "赵外", verified=True)
        await make_user(store, MULTI, "钱多", verified=True)
        await make_user(store, LOWER_ADMIN, "孙下", verified=True)
        await make_user(store, OPERATOR_ID, "运营方", verified=True)
        org = await make_org(store, ORG, ADMIN, admins=[MULTI], branches=[GENERAL, (BRANCH, GENERAL)],
                             certified=True)
        self.ids["org"] = org
        self.ids["other_org"] = await make_org(store, OTHER_ORG, OTHER)
        self.ids["third_org"] = await make_org(store, THIRD_ORG, MULTI)
        self.ids["lower_org"] = await make_org(store, LOWER_ORG, LOWER_ADMIN, certified=True, parent_id=org)
        await make_member(store, org, "李管理", f"+86138{ADMIN % 100000000:08d}", BRANCH, activated=True)
        await make_member(store, org, "王芳", member_phone, BRANCH, activated=True)
        await make_member(store, org, "孙小明", "+8613911112222", GENERAL)
        await make_member(store, self.ids["other_org"], "周外员", "+8613911113333")
        async with store.raw_tx() as db:
            await db.execute("UPDATE members SET correspondent = 1 WHERE phone = ?", (member_phone,))
        # fill-in-the-blank questions only: the first question of a quiz or an exam asks for typed text
        for i in range(12):
            await make_question(store, "blank", f"填空{i + 1}：党的根本宗旨是____", answer=(("全心全意为人民服务",),))
        for i in range(6):
            await make_question(store, "blank", f"本组织填空{i + 1}：____", answer=(("为人民服务",),), org_id=org)

    async def play(self, steps: list[Step]) -> None:
        for step in steps:
            await self.step(step)

    async def step(self, step: Step) -> None:
        env = self.env
        with env.watching():
            if callable(step):
                await step(self)
                return
            client = self.client()
            if step.startswith("@"):
                self.current = step[1:]
                return
            if step.startswith("/"):
                sent = await client.send(step)
            elif step.startswith("»"):
                sent = await client.press_latest(step[1:])
            elif step.startswith("t:"):
                env.session.typed(step[2:])
                sent = await client.send(step[2:])
            elif step == "c:own":  # the person's own phone, different for each new visitor
                sent = await client.contact(f"86137{client.user_id % 100000000:08d}")
            elif step.startswith("c:"):
                sent = await client.contact(step[2:])
            else:
                raise AssertionError(f"unknown step {step!r}")
            self.last = sent
            problems = env.problems(sent)
            assert not problems, f"while reaching the state, {step!r}: {problems}"

    async def tour(self) -> None:
        """Where names and texts typed earlier are shown again: each person's screens, the pushes waiting
        for other people; every answer checked as every other (HTML, lengths, labels, errors)."""
        for who, commands in TOUR.items():
            client = self.client(who)
            await self.env.fsm(client).clear()
            for command in commands:
                with self.env.watching():
                    sent = await client.send(command)
                    problems = self.env.problems(sent)
                assert not problems, f"{who} {command} after the fuzzing: {problems}"
        with self.env.watching():
            await self.env.outbox.flush()
            problems = list(self.env.session.violations) + [r.getMessage() for r in self.env.errors.records]
        assert not problems, f"the pushes after the fuzzing: {problems}"

    async def state(self, who: str | None = None) -> str | None:
        return await self.env.fsm(self.client(who)).get_state()


def link_from(pattern: str, who_reads: str, who_opens: str) -> Callable[[World], Awaitable[None]]:
    """A step: `who_opens` opens the start link (its payload matching `pattern`) that `who_reads` was sent."""

    async def step(world: World) -> None:
        texts = [m.text or m.caption or "" for m in world.client(who_reads).window]
        found = [m.group(1) for t in texts for m in [re.search(pattern, t)] if m]
        assert found, f"no link {pattern!r} in {who_reads}'s chat: {texts[-3:]}"
        world.current = who_opens
        world.last = await world.client(who_opens).start(found[-1])

    return step


async def flush_outbox(world: World) -> None:
    await world.env.outbox.flush()
