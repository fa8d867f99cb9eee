"""Issue 16, fuzzing: forged callback data on every CallbackData prefix of the bot (SEC-4: ids in
callback data are never trusted without checking the actor's role when the action runs).

Every CallbackData class is found by walking the `bot` package. For each prefix, hypothesis forges:
random text after the prefix, a valid packed button cut short, and well-formed data whose fields are
the ids of another organisation's rows (its id, branches, members, tasks, exams, invites, ...) and of
other people, with every action of the class. The organisation's admin's own world is full (a task
sent, an activity, a published exam, an invite, a manuscript, a certification application), and:
- an admin of another organisation presses them against it, and it presses back against theirs;
- a member of the organisation who is not its admin presses them against it (its admin's rows);
- a visitor who has not registered presses random data.
After each press: the callback query was answered; nothing Telegram refuses was sent; no exception
was logged, no generic apology, no traceback; and nothing belonging to the other organisation or to
other people changed (a digest of their rows in every table)."""
from __future__ import annotations

import asyncio
import enum
import hashlib
import importlib
import inspect
import pkgutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiogram.filters.callback_data import CallbackData
from hypothesis import given
from hypothesis import strategies as st

import bot
from tests.fuzz.harness import Env, fuzz_settings
from tests.fuzz.test_text_into_states import ROUTES
from tests.fuzz.world import ADMIN, MEMBER, OTHER, THIRD_ORG, World, flush_outbox, link_from

RANDOM_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=64)


def all_callback_data() -> dict[str, type[CallbackData]]:
    found: dict[str, type[CallbackData]] = {}
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if ".sandbox" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, CallbackData) and obj is not CallbackData and obj.__module__ == module.__name__:
                assert obj.__prefix__ not in found, f"two CallbackData classes use the prefix {obj.__prefix__}"
                found[obj.__prefix__] = obj
    return found


CLASSES = all_callback_data()


def test_every_prefix_is_found():
    assert len(CLASSES) >= 40, sorted(CLASSES)


# the rows the world makes beside its setup: one of everything an organisation has
FULL_WORLD = [
    ["@admin", *ROUTES["TaskCompose:preview"], "»发送"],
    ["@admin", *ROUTES["ActivityCreate:preview"], "»创建"],
    ["@admin", *ROUTES["ExamCreate:publish"], "»立即发布"],
    ["@admin", "/invite", "»由加入者选择", "»7 天", "»不限次数"],
    ["@admin", *ROUTES["ReviewReason:reason"], "/cancel"],
    # a third organisation applies for certification under the admin's (the admin may decide it: it is
    # not the other organisation, whose rows the admin must not touch)
    ["@admin", "/certify", "»生成认证邀请", link_from(r"start=(c_[A-Za-z0-9_-]+)", "admin", "multi"),
     f"»提交申请：{THIRD_ORG}", flush_outbox, "@admin", "/cancel"],
    ["@other", "/invite", "»7 天", "»不限次数"],
]


class Victim:
    """What belongs to one organisation and its people, as a digest of their rows in every table."""

    def __init__(self, org_id: int, people: tuple[int, ...]) -> None:
        self.org_id, self.people = org_id, people

    async def digest(self, env: Env) -> dict[str, str]:
        """table -> a digest of this organisation's and these people's rows in it."""
        store, out = env.store, {}
        tables = [r[0] for r in await store._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        marks = ",".join("?" * len(self.people))
        for table in sorted(tables):
            if table in {"fsm", "inbox", "outbox", "outbox_v17", "outbox_files", "due_work"}:
                continue
            columns = [r[1] for r in await store._all(f'PRAGMA table_info("{table}")')]
            where = []
            args: list[int] = []
            if "org_id" in columns:
                where.append("org_id = ?")
                args.append(self.org_id)
            if table == "orgs":
                where.append("id = ?")
                args.append(self.org_id)
            if table == "users":
                where.append(f"id IN ({marks})")
                args += self.people
            if "user_id" in columns:
                where.append(f"user_id IN ({marks})")
                args += self.people
            if not where:
                continue
            rows = await store._all(f'SELECT * FROM "{table}" WHERE {" OR ".join(where)} ORDER BY 1', args)
            out[table] = hashlib.sha256(repr(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
        return out

    async def ids(self, env: Env) -> list[int]:
        """The ids of this organisation's rows in every table that has an id and an org_id."""
        out = {self.org_id, *self.people}
        tables = [r[0] for r in await env.store._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            columns = [r[1] for r in await env.store._all(f'PRAGMA table_info("{table}")')]
            if "id" in columns and "org_id" in columns:
                out.update(r[0] for r in await env.store._all(f'SELECT id FROM "{table}" WHERE org_id = ?',
                                                               (self.org_id,)))
        return sorted(out)


def _field_values(annotation: typing.Any, ids: list[int]) -> st.SearchStrategy[typing.Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return st.one_of(*[_field_values(a, ids) for a in typing.get_args(annotation)])
    if annotation is type(None):
        return st.none()
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.one_of(st.sampled_from(ids), st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, -(2**63)]),
                         st.integers())
    return st.one_of(st.sampled_from(["", "0", "7", "¹", "custom", "99999999999999999999", "-1", "x" * 40]),
                     RANDOM_TEXT.filter(lambda s: ":" not in s))


def well_formed(cls: type[CallbackData], ids: list[int]) -> st.SearchStrategy[str]:
    fields = {name: _field_values(f.annotation, ids) for name, f in cls.model_fields.items()}

    def pack(values: dict[str, typing.Any]) -> str:
        try:
            return cls(**values).pack()
        except (ValueError, TypeError):
            return f"{cls.__prefix__}:" + ":".join(str(v) for v in values.values())  # packed by hand, too long

    return st.fixed_dictionaries(fields).map(pack)


def forged(cls: type[CallbackData], ids: list[int]) -> st.SearchStrategy[str]:
    prefix = cls.__prefix__
    valid = well_formed(cls, ids)
    return st.one_of(
        valid,
        valid,
        st.tuples(valid, st.integers(0, 64)).map(lambda p: p[0][:p[1]]),  # cut short
        RANDOM_TEXT.map(lambda s: f"{prefix}:{s}"),
        st.lists(st.sampled_from(["", "0", "-1", "x", "9" * 30, "¹", "None", "true"]), max_size=8).map(
            lambda parts: ":".join([prefix, *parts])),
        RANDOM_TEXT,
    ).map(lambda s: s.encode()[:64].decode(errors="ignore"))


class Presses:
    """One world (a runner, a store, a dispatcher) shared by every prefix of this module."""

    def __init__(self, tmp: Path) -> None:
        self.runner = asyncio.Runner()
        self.env = Env(self.runner, tmp)
        self.runner.run(self.env.open())
        self.world = World(self.env)
        self.runner.run(self._setup())

    async def _setup(self) -> None:
        await self.world.setup()
        for route in FULL_WORLD:
            await self.world.play(route)
            await self.env.fsm(self.world.client()).clear()
        ids = self.world.ids
        self.victims = {"other": Victim(ids["org"], (ADMIN, MEMBER)), "admin": Victim(ids["other_org"], (OTHER,)),
                        "member": Victim(ids["org"], (ADMIN,))}
        self.pools = {who: await v.ids(self.env) for who, v in self.victims.items()}
        self.pools["visitor"] = self.pools["other"]

    def close(self) -> None:
        self.runner.run(self.env.close())
        self.runner.close()

    async def press(self, who: str, data: str) -> None:
        env, world = self.env, self.world
        client = world.client(who)
        await env.fsm(client).clear()
        victim = self.victims.get(who, self.victims["other"])
        before = await victim.digest(env)
        counts = await env.counts() if who == "visitor" else None
        with env.watching():
            sent = await client.click(data)  # forged: fuzzed callback data
            problems = env.problems(sent)
        assert not problems, f"{who} pressed {data!r}: {problems}"
        assert sent.answers, f"{who} pressed {data!r}: the callback query was not answered"
        after = await victim.digest(env)
        changed = sorted(t for t in before if before[t] != after.get(t))
        assert not changed, f"{who} pressed {data!r}: it changed someone else's rows in {changed}"
        if counts is not None:
            after = await env.counts()
            assert after == counts, f"a visitor pressed {data!r}: rows changed {set(after.items()) ^ set(counts.items())}"


@pytest.fixture(scope="module")
def presses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Presses]:
    p = Presses(tmp_path_factory.mktemp("callbacks"))
    yield p
    p.close()


@pytest.mark.parametrize("prefix", sorted(CLASSES))
def test_forged_callback_data(prefix: str, presses: Presses) -> None:
    cls = CLASSES[prefix]
    pools = presses.pools
    data = st.one_of(*[st.tuples(st.just(who), forged(cls, pools[who])) for who in ("other", "admin", "member")],
                     st.tuples(st.just("visitor"), forged(cls, pools["visitor"])))

    @fuzz_settings()
    @given(press=data)
    def one(press: tuple[str, str]) -> None:
        presses.runner.run(presses.press(*press))

    one()


# A sweep beside the random search: for every action of every class, each field in turn set to a value
# that broke something once ("¹" passes isdigit() but not int(); 2**31 overflows a C int), the other
# fields at the admin's own organisation, pressed by that admin (whose role lets the action run deep).
NASTY_STR = ["", "¹", "9" * 20, "<b>&amp;"]
NASTY_INT = [0, -1, 2**31, 2**53 - 1]


def sweep(org_id: int) -> list[str]:
    out: list[str] = []
    for cls in CLASSES.values():
        fields = cls.model_fields
        enums = {n: list(f.annotation) for n, f in fields.items()
                 if inspect.isclass(f.annotation) and issubclass(f.annotation, enum.Enum)}
        combos: list[dict[str, typing.Any]] = [{}]
        for name, members in enums.items():
            combos = [{**c, name: m} for c in combos for m in members]
        for combo in combos:
            base = {n: combo.get(n, org_id if f.annotation is int else False if f.annotation is bool else "")
                    for n, f in fields.items()}
            variants = [base] + [{**base, n: v} for n, f in fields.items() if n not in enums
                                 for v in (NASTY_INT if f.annotation is int else NASTY_STR if f.annotation is str
                                           else [])]
            for values in variants:
                try:
                    data = cls(**values).pack()
                except (ValueError, TypeError):
                    continue
                if data not in out:
                    out.append(data)
    return out


@pytest.fixture(scope="module")
def admin_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Presses]:
    p = Presses(tmp_path_factory.mktemp("sweep"))  # its own world: the admin's presses may dissolve things
    yield p
    p.close()


def test_every_action_with_each_field_at_an_edge(admin_world: Presses) -> None:
    env, world = admin_world.env, admin_world.world
    client = world.client("admin")
    failures: list[str] = []

    async def press_all() -> None:
        for data in sweep(world.ids["org"]):
            await env.fsm(client).clear()
            with env.watching():
                sent = await client.click(data)  # forged: an edge value in a real button's field
                problems = env.problems(sent)
            if problems or not sent.answers:
                failures.append(f"{data!r}: {problems or 'not answered'}")

    admin_world.runner.run(press_all())
    assert not failures, "\n".join(failures[:30])
