"""SEC-3, SEC-4 (and RNV-1): who may do what, as one table.

Every admin action is pressed as a packed callback, the way a stale or forged button arrives, by
each role: a visitor, a member of the organisation, the admin of another organisation, an admin
who has not verified yet (RNV-1: not an admin yet), an admin, the main admin. Refusals show the
not-allowed alert and leave every organisation table as it was; allowed actions have their effect
and write their audit row by the actor.
"""
from __future__ import annotations

import ast
import asyncio
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from aiogram.methods import SendDocument

from bot.clock import FakeClock
from bot.i18n import I18n
from bot.services import invites, orgs, points
from bot.store import Store
from bot.ui.invite import InviteCD, InviteListCD, InviteRevokeCD, JoinDecisionCD
from bot.ui.members import AddStepCD, MemAddCD, MemberCD, MemListCD, MoveCD
from bot.ui.org import AdminCD, AuditCD, BranchCD, FlagCD, OrgCD, OrgPickCD
from tests.conftest import TZ
from tests.support.factories import make_member, make_org, make_user
from tests.support.recording import ChatClient, Sent

MAIN, ADMIN, ADMIN2, OTHER, MEMBER, PENDING, VISITOR, NEWBIE = (
    100001, 100002, 100003, 100004, 100005, 100006, 100007, 100008)
NEWBIE_PHONE = "+8613800100008"
ORG = "金水区委宣传部"

VISITOR_R, MEMBER_R, OTHER_R, PENDING_R, ADMIN_R, MAIN_R = (
    "visitor", "member", "admin of another organisation", "admin not yet verified", "admin", "main admin")
ROLES = {VISITOR_R: VISITOR, MEMBER_R: MEMBER, OTHER_R: OTHER, PENDING_R: PENDING, ADMIN_R: ADMIN, MAIN_R: MAIN}
ADMINS, MAIN_ONLY = frozenset({ADMIN_R, MAIN_R}), frozenset({MAIN_R})
TABLES = ("orgs", "org_admins", "branches", "members", "invites", "join_requests", "audit_log")

T = I18n()


def zh(key: str) -> str:
    return T.t("zh", key)


@dataclass(frozen=True)
class World:
    org: int
    other: int
    b1: int
    b2: int
    member: int  # 赵六, a member of the organisation in 第一党支部
    invite: int
    request: int  # NEWBIE's pending join request


async def build_world(store, clock) -> World:
    await make_user(store, MAIN, "王主任", verified=True)
    await make_user(store, ADMIN, "李管理", verified=True)
    await make_user(store, ADMIN2, "周管理", verified=True)
    await make_user(store, OTHER, "外单位", verified=True)
    member_phone = await make_user(store, MEMBER, "钱七")
    await make_user(store, PENDING, "孙待认证")
    await make_user(store, NEWBIE, "吴新人", phone=NEWBIE_PHONE)
    org = await make_org(store, ORG, MAIN, admins=[ADMIN, ADMIN2, PENDING], branches=["第一党支部", "第二党支部"])
    other = await make_org(store, "邻县委宣传部", OTHER, branches=["甲支部"])
    await make_member(store, org, "赵六", "+8613900000001", "第一党支部")
    await make_member(store, org, "钱七", member_phone, "第一党支部", activated=True)
    ids = {r["name"]: r["id"] for r in await store._all("SELECT id, name FROM branches WHERE org_id = ?", (org,))}
    member = (await store._one("SELECT id FROM members WHERE name = '赵六'"))["id"]
    now = clock.now()
    invite = await store.create_invite(org, None, invites.token_hash(b"k", "t" * 22), MAIN, now.isoformat(),
                                       "2030-01-01T00:00:00+00:00", None)
    request = await store.request_join(invite, org, None, NEWBIE, NEWBIE_PHONE, now.isoformat(),
                                       "2026-11-23T01:00:00+00:00")
    return World(org, other, ids["第一党支部"], ids["第二党支部"], member, invite, request)


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> tuple[Path, World]:
    """The world is built once; each test gets its own copy of the database file (fast, and no test
    sees another's changes)."""
    path = tmp_path_factory.mktemp("authz") / "seed.sqlite3"

    async def build() -> World:
        seed = await Store.open(path)
        try:
            return await build_world(seed, FakeClock(TZ))
        finally:
            await seed.close()

    return path, asyncio.run(build())


@pytest.fixture
async def store(settings, seeded_db):
    shutil.copyfile(seeded_db[0], settings.database_path)
    s = await Store.open(settings.database_path)
    yield s
    await s.close()


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return T  # read-only: one catalogue load for the whole table


@pytest.fixture
def w(seeded_db) -> World:
    return seeded_db[1]


async def snapshot(store) -> dict[str, list[tuple]]:
    return {t: [tuple(r) for r in await store._all(f"SELECT * FROM {t} ORDER BY rowid")] for t in TABLES}


async def last_audit(store) -> tuple:
    row = await store._one("SELECT actor_id, org_id, action FROM audit_log ORDER BY id DESC LIMIT 1")
    return tuple(row)


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "所属支部", "备注"])
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


# -- the actions: the steps a person takes, and what an allowed run leaves behind ---------------------

Steps = Callable[[ChatClient, World], Awaitable[list[Sent]]]
Effect = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Action:
    steps: Steps
    allowed: frozenset[str]
    audit: str | None  # what an allowed run writes to the audit log (None: a read)
    effect: Effect
    admin_refusal: str = "errors.not_allowed"  # what an ordinary admin sees when refused


def press(make: Callable[[World], str]) -> Steps:
    async def steps(c: ChatClient, w: World) -> list[Sent]:
        return [await c.click(make(w))]  # forged: the table presses packed data, as a forged button would
    return steps


def press_then(make: Callable[[World], str], *inputs: str) -> Steps:
    async def steps(c: ChatClient, w: World) -> list[Sent]:
        out = [await c.click(make(w))]  # forged: as above
        for text in inputs:
            out.append(await c.send(text))
        return out
    return steps


async def _add_member(c: ChatClient, w: World) -> list[Sent]:
    out = [await c.click(MemAddCD(org_id=w.org).pack())]  # forged: as above
    out.append(await c.send("郑八"))
    out.append(await c.send("13900000099"))
    out.append(await c.click(AddStepCD(action="branch", branch_id=w.b2).pack()))  # forged: as above
    return out


async def _import(c: ChatClient, w: World) -> list[Sent]:
    out = [await c.click(OrgPickCD(purpose="import", org_id=w.org).pack())]  # forged: as above
    out.append(await c.document(xlsx([["孙七", "13900000077", "第一党支部", ""]]), "成员.xlsx"))
    return out


async def _one(store, sql: str, *params):
    row = await store._one(sql, params)
    return tuple(row) if row else None


def shows(*needles: str) -> Effect:
    async def effect(store, w: World, sent: list[Sent]) -> None:
        for needle in needles:
            assert needle in sent[-1].text, (needle, sent[-1].text)
    return effect


def sends_document(name_part: str) -> Effect:
    async def effect(store, w: World, sent: list[Sent]) -> None:
        (doc,) = sent[-1].of(SendDocument)
        assert name_part in doc.document.filename
    return effect


def row_is(sql: str, expected: tuple | None, *params: Callable[[World], int]) -> Effect:
    async def effect(store, w: World, sent: list[Sent]) -> None:
        assert await _one(store, sql, *(p(w) for p in params)) == expected
    return effect


ORG_ID = lambda w: w.org  # noqa: E731
MEMBER_ID = lambda w: w.member  # noqa: E731
B1 = lambda w: w.b1  # noqa: E731
INVITE_ID = lambda w: w.invite  # noqa: E731

ACTIONS: dict[str, Action] = {
    "open /org card": Action(press(lambda w: OrgCD(act="card", org=w.org).pack()), ADMINS, None,
                             shows(ORG, "成员：2 人")),
    "pick the org in /org": Action(press(lambda w: OrgPickCD(purpose="org", org_id=w.org).pack()), ADMINS, None,
                                   shows(ORG, "管理员：")),
    "rename": Action(press_then(lambda w: OrgCD(act="rename", org=w.org).pack(), "金水区委宣传部机关委员会"),
                     ADMINS, "org.rename", row_is("SELECT name FROM orgs WHERE id = ?", ("金水区委宣传部机关委员会",),
                                                  ORG_ID)),
    "dissolve": Action(press(lambda w: OrgCD(act="dissolve_yes", org=w.org).pack()), MAIN_ONLY, "org.dissolve",
                       row_is("SELECT id FROM orgs WHERE id = ?", None, ORG_ID), "errors.org.dissolve_main_only"),
    "add branch": Action(press_then(lambda w: BranchCD(act="add", org=w.org, kind="branch").pack(), "第三党支部"),
                         ADMINS, "branch.add",
                         row_is("SELECT kind FROM branches WHERE org_id = ? AND name = '第三党支部'", ("branch",),
                                ORG_ID)),
    "rename branch": Action(press_then(lambda w: BranchCD(act="rename", org=w.org, br=w.b1).pack(), "机关第一党支部"),
                            ADMINS, "branch.rename", row_is("SELECT name FROM branches WHERE id = ?", ("机关第一党支部",),
                                                            B1)),
    "delete branch": Action(press(lambda w: BranchCD(act="delete_yes", org=w.org, br=w.b1).pack()), ADMINS,
                            "branch.delete", row_is("SELECT id FROM branches WHERE id = ?", None, B1)),
    "add admin": Action(press_then(lambda w: AdminCD(act="add", org=w.org).pack(), NEWBIE_PHONE[3:]), MAIN_ONLY,
                        "admin.add", row_is(f"SELECT role FROM org_admins WHERE org_id = ? AND user_id = {NEWBIE}",
                                            ("admin",), ORG_ID), "errors.org.admins_main_only"),
    "remove admin": Action(press(lambda w: AdminCD(act="rm_yes", org=w.org, user=ADMIN2).pack()), MAIN_ONLY,
                           "admin.remove",
                           row_is(f"SELECT role FROM org_admins WHERE org_id = ? AND user_id = {ADMIN2}", None, ORG_ID),
                           "errors.org.admins_main_only"),
    "hand over main admin": Action(press(lambda w: AdminCD(act="ho_yes", org=w.org, user=ADMIN2).pack()), MAIN_ONLY,
                                   "admin.handover",
                                   row_is("SELECT user_id FROM org_admins WHERE org_id = ? AND role = 'main'",
                                          (ADMIN2,), ORG_ID), "errors.org.admins_main_only"),
    "toggle join approval": Action(press(lambda w: FlagCD(org=w.org, flag="join_approval", on=1).pack()), ADMINS,
                                   "org.join_approval",
                                   row_is("SELECT join_approval FROM orgs WHERE id = ?", (1,), ORG_ID)),
    "toggle protect content": Action(press(lambda w: FlagCD(org=w.org, flag="protect_content", on=0).pack()), ADMINS,
                                     "org.protect_content",
                                     row_is("SELECT protect_content FROM orgs WHERE id = ?", (0,), ORG_ID)),
    "/members list": Action(press(lambda w: OrgPickCD(purpose="members", org_id=w.org).pack()), ADMINS, None,
                            shows("共 2 人", "赵六")),
    "/members page": Action(press(lambda w: MemListCD(org_id=w.org, page=0, branch=w.b1).pack()), ADMINS, None,
                            shows("赵六", "第一党支部")),
    "add member": Action(_add_member, ADMINS, "member.add",
                         row_is("SELECT name, branch_id IS NOT NULL FROM members WHERE org_id = ? AND phone = "
                                "'+8613900000099'", ("郑八", 1), ORG_ID)),
    "open member": Action(press(lambda w: MemberCD(action="open", member_id=w.member).pack()), ADMINS, None,
                          shows("赵六", "13900000001")),
    "edit member": Action(press_then(lambda w: MemberCD(action="name", member_id=w.member).pack(), "赵六六"), ADMINS,
                          "member.edit", row_is("SELECT name FROM members WHERE id = ?", ("赵六六",), MEMBER_ID)),
    "move member": Action(press(lambda w: MoveCD(member_id=w.member, branch_id=w.b2).pack()), ADMINS, "member.move",
                          row_is("SELECT b.name FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.id = ?",
                                 ("第二党支部",), MEMBER_ID)),
    "remove member": Action(press(lambda w: MemberCD(action="rm_yes", member_id=w.member).pack()), ADMINS,
                            "member.remove", row_is("SELECT id FROM members WHERE id = ?", None, MEMBER_ID)),
    "/template": Action(press(lambda w: OrgPickCD(purpose="template", org_id=w.org).pack()), ADMINS, None,
                        sends_document(".xlsx")),
    "/import": Action(_import, ADMINS, "member.import",
                      row_is("SELECT name FROM members WHERE org_id = ? AND phone = '+8613900000077'", ("孙七",),
                             ORG_ID)),
    "/export": Action(press(lambda w: OrgPickCD(purpose="export", org_id=w.org).pack()), ADMINS, None,
                      sends_document(".xlsx")),
    "/invite create": Action(press(lambda w: InviteCD(org_id=w.org, branch_id=0, days=7, uses=0).pack()), ADMINS,
                             "invite.create", row_is("SELECT COUNT(*) FROM invites WHERE org_id = ?", (2,), ORG_ID)),
    "/invite wizard": Action(press(lambda w: OrgPickCD(purpose="invite", org_id=w.org).pack()), ADMINS, None,
                             shows("第 1 步")),
    "list invites": Action(press(lambda w: InviteListCD(org_id=w.org).pack()), ADMINS, None,
                           shows("的邀请链接", "#1")),
    "revoke invite": Action(press(lambda w: InviteRevokeCD(invite_id=w.invite).pack()), ADMINS, "invite.revoke",
                            row_is("SELECT revoked_at IS NOT NULL FROM invites WHERE id = ?", (1,), INVITE_ID)),
    "approve join request": Action(press(lambda w: JoinDecisionCD(request_id=w.request, approve=True).pack()), ADMINS,
                                   "join.approve",
                                   row_is(f"SELECT r.status, m.activated_at IS NOT NULL FROM join_requests r JOIN "
                                          f"members m ON m.org_id = r.org_id AND m.phone = '{NEWBIE_PHONE}' "
                                          f"WHERE r.id = ?", ("approved", 1), lambda w: w.request)),
    "/audit": Action(press(lambda w: AuditCD(org=w.org).pack()), MAIN_ONLY, None, shows("操作日志", "创建了邀请链接"),
                     "errors.org.audit_main_only"),
    "/audit pick": Action(press(lambda w: OrgPickCD(purpose="audit", org_id=w.org).pack()), MAIN_ONLY, None,
                          shows("操作日志"), "errors.org.audit_main_only"),
}


def refusal_texts(action: Action, role: str) -> set[str]:
    if role == VISITOR_R:  # routers for registered people do not even see the press
        return {zh("errors.not_allowed"), zh("errors.stale_button"), zh("errors.register_first")}
    if role == ADMIN_R:
        return {zh(action.admin_refusal)}
    return {zh("errors.not_allowed")}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("name", list(ACTIONS))
async def test_sec_4_authorisation_table(client_factory, store, w, name, role):
    action = ACTIONS[name]
    before = await snapshot(store)
    actor = ROLES[role]
    sent = await action.steps(client_factory(actor), w)
    if role in action.allowed:
        assert not [a for a in sent[0].answers if a.show_alert], sent[0].answers
        await action.effect(store, w, sent)
        after = await snapshot(store)
        if action.audit is None:
            assert after == before, "a read changes nothing"
        else:
            assert await last_audit(store) == (actor, w.org, action.audit), "SEC-3: the audit row of the action"
        return
    first = sent[0]
    alerts = [a.text for a in first.answers if a.show_alert]
    assert alerts and alerts[0] in refusal_texts(action, role), (alerts, first.texts)
    assert not first.messages, "a refused press sends nothing but the alert"
    assert await snapshot(store) == before, "a refusal changes nothing"


# -- the commands: a visitor, a plain member, an admin who has not verified yet ------------------------

COMMANDS = ("/org", "/members", "/template", "/import", "/export", "/invite", "/audit", "/task", "/activity", "/review")


@pytest.mark.parametrize("role", [VISITOR_R, MEMBER_R, PENDING_R])
@pytest.mark.parametrize("command", COMMANDS)
async def test_sec_4_rnv_1_admin_commands_for_non_admins(client_factory, store, command, role):
    before = await snapshot(store)
    sent = await client_factory(ROLES[role]).send(command)
    if role == VISITOR_R:
        assert sent.texts == [zh("errors.register_first")]
    elif role == MEMBER_R:
        assert sent.texts == [zh("errors.not_admin")]
    else:  # RNV-1: an added admin is sent through verification first, whichever command they use
        assert zh("rnv.needed") in sent.texts and zh("rnv.ask_name") in sent.texts
        state = await store._one("SELECT state FROM fsm WHERE key LIKE ?", (f"%{PENDING}%",))
        assert state and state["state"] == "Verify:real_name"
    assert await snapshot(store) == before


@pytest.mark.parametrize("command,resumed", [
    ("/org", "成员：2 人"), ("/members", "共 2 人"), ("/template", "导入模板"), ("/export", "成员名单：2 人"),
    ("/import", "批量导入成员到"), ("/invite", "第 1 步"), ("/audit", "成员：2 人"),
    ("/task", "第 1 步：请发送任务内容"), ("/activity", "还没有集体活动"), ("/review", "没有待审核的稿件"),
])
async def test_rnv_1_pending_admin_verifies_and_the_command_resumes(client_factory, store, w, command, resumed):
    c = client_factory(PENDING)
    assert zh("rnv.needed") in (await c.send(command)).texts
    await c.send("孙待认证")
    done = await c.send("11010519491231002X")
    assert "实名认证成功" in done.text and resumed in done.text, done.text
    assert w.org in (await store.admin_org_ids(PENDING))[0]
    if command == "/members":
        assert "赵六" in done.text and done.messages[-1].protect_content is True


# -- SEC-4: buttons received while still an admin ------------------------------------------------------

async def test_sec_4_buttons_kept_after_being_removed_as_admin_are_refused(client_factory, store, w):
    await make_member(store, w.org, "李管理", "+8613800100002", "第二党支部", activated=True)
    admin = client_factory(ADMIN)
    listing = await admin.send("/members")
    assert "赵六" in listing.text
    kept = {"open": listing.button("赵六"), "add": listing.button("添加"), "filter": listing.button("按支部")}
    member_card = await admin.press(listing, "赵六")
    kept["remove"] = member_card.button("移除")
    settings = await admin.press(await admin.send("/org"), "🔧 设置")
    kept["flag"] = settings.button("开启加入审核")
    invite_list = await admin.press(await admin.send("/invite"), "📋 已有的邀请链接")
    kept["revoke"] = invite_list.button("撤销")

    main = client_factory(MAIN)
    confirm = await main.press(await main.press(await main.send("/org"), "👥 管理员"), "➖ 移除 李管理")
    removed = await main.press(confirm, "➖ 确认移除")
    assert "已移除管理员 李管理" in removed.text
    before = await snapshot(store)
    for label, data in kept.items():
        pressed = await admin.click(data)  # stale: each button as it was sent while still an admin
        assert [a.text for a in pressed.answers] == [zh("errors.not_allowed")], label
        assert not pressed.messages, label
    assert (await admin.send("/members")).texts == [zh("errors.not_admin")]
    assert await snapshot(store) == before
    assert await _one(store, "SELECT name FROM members WHERE phone = '+8613800100002'") == ("李管理",), \
        "still a member: only the admin role went"


# -- SEC-3: every action written to the audit log has a label in both languages -------------------------

# Parameters an action is built from, where the values are not written beside the call.
PARAMETER_VALUES = {
    "flag": orgs.FLAGS,                             # f"org.{flag}"
    "source": (points.ADJUST, points.PENALTY),      # f"points.{source}": only adjustments carry an actor
}
ACTION_RE = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _values(expr: ast.AST, scope: ast.AST, where: str) -> list[str]:
    """Every string an expression building an audit action can take (literals, f-strings, `+`,
    conditionals, names bound in the function by assignment or by a for-loop)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.FormattedValue):
        return _values(expr.value, scope, where)
    if isinstance(expr, ast.JoinedStr):
        out = [""]
        for part in expr.values:
            out = [a + b for a in out for b in _values(part, scope, where)]
        return out
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [a + b for a in _values(expr.left, scope, where) for b in _values(expr.right, scope, where)]
    if isinstance(expr, ast.IfExp):
        return _values(expr.body, scope, where) + _values(expr.orelse, scope, where)
    if isinstance(expr, ast.Name):
        found = [v for node in ast.walk(scope) for target, value, loop in _bindings(node)
                 for v in _bound(expr.id, target, value, loop, scope, where)]
        if found:
            return found
        assert expr.id in PARAMETER_VALUES, f"{where}: add the values of {expr.id!r} to PARAMETER_VALUES"
        return list(PARAMETER_VALUES[expr.id])
    raise AssertionError(f"{where}: cannot tell which audit actions {ast.unparse(expr)!r} makes")


def _elements(expr: ast.AST, scope: ast.AST, where: str) -> list[str]:
    """The values of the elements of something iterated over."""
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return [v for elt in expr.elts for v in _values(elt, scope, where)]
    if isinstance(expr, ast.IfExp):
        return _elements(expr.body, scope, where) + _elements(expr.orelse, scope, where)
    if isinstance(expr, ast.Name):
        found = [v for node in ast.walk(scope) for target, value, loop in _bindings(node)
                 if not loop and isinstance(target, ast.Name) and target.id == expr.id
                 for v in _elements(value, scope, where)]
        if found:
            return found
    raise AssertionError(f"{where}: cannot tell what {ast.unparse(expr)!r} holds")


def _bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST, bool]]:
    """(target, value, is a loop) of each binding a node makes."""
    if isinstance(node, ast.Assign):
        return [(t, node.value, False) for t in node.targets]
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return [(node.target, node.iter, True)]
    return []


def _bound(name: str, target: ast.AST, value: ast.AST, loop: bool, scope: ast.AST, where: str) -> list[str]:
    if isinstance(target, ast.Name):
        if target.id != name:
            return []
        return _elements(value, scope, where) if loop else _values(value, scope, where)
    if not isinstance(target, ast.Tuple):
        return []
    index = next((i for i, t in enumerate(target.elts) if isinstance(t, ast.Name) and t.id == name), None)
    if index is None:
        return []
    if loop and isinstance(value, ast.Call) and getattr(value.func, "id", None) == "zip":
        return _elements(value.args[index], scope, where)  # for org_id, action in zip(ids, actions)
    if loop and isinstance(value, (ast.Tuple, ast.List)):  # for org_id, action in ((a, "x.y"), …)
        return [v for row in value.elts if isinstance(row, (ast.Tuple, ast.List))
                for v in _values(row.elts[index], scope, where)]
    if not loop and isinstance(value, ast.Tuple):
        return _values(value.elts[index], scope, where)
    raise AssertionError(f"{where}: cannot tell which audit actions {name!r} takes from {ast.unparse(value)!r}")


def written_audit_actions() -> set[str]:
    root = Path(__file__).resolve().parents[2] / "bot"
    actions: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                # write_audit(db, actor, org, action, …) and, in one-trip transactions, _audit_params(actor, org, action, …)
                position = {"write_audit": 3, "_audit_params": 2}.get(name or "")
                if position is None or func.name in ("write_audit", "_audit_params"):
                    continue
                kw = {k.arg: k.value for k in call.keywords}
                arg = kw.get("action", call.args[position] if len(call.args) > position else None)
                assert arg is not None, f"{path}:{call.lineno}"
                where = f"{path.name}:{call.lineno}"
                for action in _values(arg, func, where):
                    assert ACTION_RE.match(action), f"{where}: {action!r} is not area.action"
                    actions.add(action)
    return actions


def test_sec_3_every_audit_action_written_has_a_label_in_both_languages():
    actions = written_audit_actions()
    assert {"org.create", "org.join_approval", "member.move", "member.edit", "join.approve", "join.reject",
            "invite.revoke", "points.adjust"} <= actions, actions
    i18n = I18n()
    for lang in i18n.languages:
        missing = sorted(a for a in actions if "audit.action." + a.replace(".", "_") not in i18n.catalogues[lang])
        assert not missing, f"{lang}: no [audit.action] label for {missing}"


async def test_sec_3_the_audit_log_shows_member_and_invite_labels(client_factory, store, w):
    main = client_factory(MAIN)
    card = await main.press(await main.send("/members"), "赵六")
    await main.press(await main.press(card, "🏷 换支部"), "第二党支部")
    # forged: the request was seeded in the store, so no notice carries its buttons
    await main.click(JoinDecisionCD(request_id=w.request, approve=False).pack())  # forged:
    text = (await main.press(await main.send("/org"), "📜 操作日志")).text
    for label in ("创建了邀请链接 #1", "把成员 赵六 从“第一党支部”调到“第二党支部”", "拒绝了 吴新人 的加入申请"):
        assert label in text
    assert "member.move" not in text and "invite.create" not in text
