"""Issue 16, fuzzing: hypothesis-made text typed into EVERY state of every flow.

Every StatesGroup of the bot is found by walking the `bot` package, so a new state without a route
here fails `test_every_state_has_a_route`. Each state is reached the way a person reaches it (ROUTES:
commands, presses by label, typed steps); then, per example, the flow is put back at that state (its
FSM state and data as they were when reached) and one text is typed: unicode of every category, RTL
and zero-width marks, control characters, 4,096 characters, HTML special characters, numbers in other
scripts, dates and phones near the valid ones. After each:
- nothing Telegram refuses was sent (tests/fuzz/harness.StrictSession: HTML that cannot be parsed,
  texts over the limits, escapes in labels), no exception was logged, no generic apology, no traceback;
- the bot answered;
- the flow stayed at its step or went on within its own flow (or ended);
- when it stayed, no table gained or lost a row (nothing half-written for rejected input);
- at the end, what was accepted (names, titles, reasons…) is shown again where it shows: each person's
  screens and the pushes to other people pass the same checks (World.tour)."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from aiogram.fsm.state import StatesGroup
from hypothesis import given

import bot
from tests.fuzz.harness import Env, fuzz_settings, run_env
from tests.fuzz.strategies import typed_text
from tests.fuzz.world import BRANCH, OTHER_ORG, World, flush_outbox, link_from


def all_states() -> dict[str, type[StatesGroup]]:
    """'Group:state' -> its group, for every StatesGroup defined anywhere in the bot package."""
    found: dict[str, type[StatesGroup]] = {}
    for info in pkgutil.walk_packages(bot.__path__, "bot."):
        if ".sandbox" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, StatesGroup) and obj is not StatesGroup and obj.__module__ == module.__name__:
                for state in obj.__all_states__:
                    found[state.state] = obj
    return found


TASK = ["/task"]
ACTIVITY = ["/activity", "»新建活动", "»讲座"]
MANUSCRIPT = ["@member", "/manuscript", "»新投稿"]
EXAM = ["/exams", "»管理考试", "»新建考试"]
EXAM_DRAW = [*EXAM, "t:党史专题考试", "»随机抽题", "t:3", "t:10"]
CERT_APPLY = ["/certify", "»生成认证邀请", link_from(r"start=(c_[A-Za-z0-9_-]+)", "admin", "other")]
INVITE = ["/invite", "»由加入者选择", "»7 天", "»不限次数",
          link_from(r"start=(j_[A-Za-z0-9_-]+)", "admin", "lower")]
ADD_MEMBER = ["/members", "»添加成员"]

# How a person reaches each state; the last person named is the one who then types.
ROUTES: dict[str, list] = {
    # registration (a visitor) and verification
    "Reg:agreement": ["@visitor", "/start"],
    "Reg:phone": ["@visitor", "/start", "»同意并继续"],
    "Reg:name": ["@visitor", "/start", "»同意并继续", "c:own"],
    "Reg:org_name": ["@visitor", "/start", "»同意并继续", "c:own", "t:新访客"],
    "Verify:real_name": ["@member", "/verify"],
    "Verify:id_number": ["@member", "/verify", "t:王芳"],
    # a new organisation
    "NewOrg:kind": ["@other", "/neworg"],
    "NewOrg:name": ["@other", "/neworg", "»党组织"],
    "NewOrg:long_name": ["@other", "/neworg", "»党组织",
                         "t:中共郑州市金水区委宣传部理论学习中心组学习小组"],
    "NewOrg:region": ["@other", "/neworg", "»党组织",
                      "t:中共郑州市金水区委宣传部"],
    "NewOrg:confirm": ["@other", "/neworg", "»党组织",
                       "t:中共郑州市金水区委宣传部", "t:河南省郑州市金水区"],
    # the organisation's screens
    "OrgInput:rename": ["/org", "»改名"],
    "OrgInput:rename_long": ["/org", "»改名", "t:中共郑州市金水区委宣传部理论学习中心组学习小组"],
    "OrgInput:branch_name": ["/org", "»支部管理", "»添加党总支"],
    "OrgInput:branch_rename": ["/org", "»支部管理", f"»{BRANCH}", "»改名"],
    "OrgInput:admin_phone": ["/org", "»管理员", "»添加管理员"],
    # members
    "MemberSearch:text": ["/members", "»搜索"],
    "AddMember:name": ADD_MEMBER,
    "AddMember:phone": [*ADD_MEMBER, "t:郑二"],
    "AddMember:copy": [*ADD_MEMBER, "t:周外员", "t:13911113333"],
    "AddMember:branch": [*ADD_MEMBER, "t:郑二", "t:13500000008"],
    "EditMember:name": ["/members", "»王芳", "»改姓名"],
    "EditMember:phone": ["/members", "»王芳", "»改手机号"],
    # imports
    "ImportMembers:file": ["/import"],
    "ImportQuestions:file": ["/import questions"],
    # joining with an invite link that lets the person choose a branch
    "Join:branch": INVITE,
    # certification
    "CertInput:phone": ["/certify", "»指定接收人"],
    "CertInput:note": ["/certify", "»指定接收人", "t:13800700007"],
    "CertApplying:choose": CERT_APPLY,
    "CertInput:reason": [*CERT_APPLY, f"»提交申请：{OTHER_ORG}", flush_outbox, "@admin", "/applications",
                         "»拒绝 #"],
    # learning
    "QuizStates:blank": ["@member", "/quiz"],
    "ExamTake:blank": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数", "»不给积分",
                       "»超时自动交卷", "»立即发布", "@member", "/exams", "»参加", "»开始作答"],
    # exam creation, step by step
    "ExamCreate:org": ["@multi", *EXAM],
    "ExamCreate:title": EXAM,
    "ExamCreate:source": [*EXAM, "t:党史专题考试"],
    "ExamCreate:count": [*EXAM, "t:党史专题考试", "»随机抽题"],
    "ExamCreate:pick": [*EXAM, "t:党史专题考试", "»从题库挑选"],
    "ExamCreate:sheet": [*EXAM, "t:党史专题考试", "»上传题目表"],
    "ExamCreate:time_limit": [*EXAM, "t:党史专题考试", "»随机抽题", "t:3"],
    "ExamCreate:window": EXAM_DRAW,
    "ExamCreate:pass_mark": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00"],
    "ExamCreate:attempts": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1"],
    "ExamCreate:points": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数"],
    "ExamCreate:policy": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数", "»不给积分"],
    "ExamCreate:grace": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数", "»不给积分",
                         "»宽限期内只能交卷"],
    "ExamCreate:publish": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数", "»不给积分",
                           "»超时自动交卷"],
    "ExamCreate:publish_at": [*EXAM_DRAW, "t:2026-11-23 09:00 ~ 2026-11-30 18:00", "t:1", "»不限次数",
                              "»不给积分", "»超时自动交卷", "»定时发布"],
    # task notices
    "TaskCompose:body": TASK,
    "TaskCompose:target": [*TASK, "t:请学习文件"],
    "TaskCompose:branches": [*TASK, "t:请学习文件", "»选定的支部"],
    "TaskCompose:deadline": [*TASK, "t:请学习文件", "»仅本组织"],
    "TaskCompose:confirm": [*TASK, "t:请学习文件", "»仅本组织", "»不设截止时间"],
    "TaskCompose:preview": [*TASK, "t:请学习文件", "»仅本组织", "»不设截止时间", "»不需要确认"],
    # activities and points
    "ActivityCreate:kind": ["/activity", "»新建活动"],
    "ActivityCreate:title": ACTIVITY,
    "ActivityCreate:window": [*ACTIVITY, "t:专题党课"],
    "ActivityCreate:points": [*ACTIVITY, "t:专题党课", "t:2026-11-24 16:00-18:00"],
    "ActivityCreate:target": [*ACTIVITY, "t:专题党课", "t:2026-11-24 16:00-18:00", "t:5"],
    "ActivityCreate:branches": [*ACTIVITY, "t:专题党课", "t:2026-11-24 16:00-18:00", "t:5", "»选定的支部"],
    "ActivityCreate:preview": [*ACTIVITY, "t:专题党课", "t:2026-11-24 16:00-18:00", "t:5", "»仅本组织"],
    "PointsAdjust:amount": ["/members", "»王芳", "»调整积分"],
    # manuscripts
    "ManuscriptSubmit:title": MANUSCRIPT,
    "ManuscriptSubmit:body": [*MANUSCRIPT, "t:标题"],
    "ManuscriptSubmit:files": [*MANUSCRIPT, "t:标题", "t:正文"],
    "ManuscriptSubmit:column": [*MANUSCRIPT, "t:标题", "t:正文", "»附件发完了"],
    "ManuscriptSubmit:preview": [*MANUSCRIPT, "t:标题", "t:正文", "»附件发完了", "t:基层动态"],
    "ReviewReason:reason": [*MANUSCRIPT, "t:标题", "t:正文", "»附件发完了", "t:基层动态", "»投稿", "@admin",
                            "/review", "»标题", "»退回"],
    # reports
    "ReportInput:export_range": ["/orgreport", "»导出 Excel", "»自定义"],
    "SettingsInput:send_time": ["/reportsettings", "»发送时间"],
    "SettingsInput:target": ["/reportsettings", "»每日目标"],
    "SettingsInput:inactive_days": ["/reportsettings", "»不活跃天数"],
}


# Declared and never entered: no handler sets them (checked below), so no one can type into them.
NEVER_ENTERED = {"ExamCreate:tag"}


def test_every_state_has_a_route():
    states = all_states()
    assert len(states) > 50
    for name in NEVER_ENTERED:
        group, step = name.split(":")
        uses = [p for p in Path(bot.__file__).parent.rglob("*.py") if f"{group}.{step}" in p.read_text()]
        assert not uses, f"{name} is entered now ({uses}): give it a route"
    missing = sorted(set(states) - set(ROUTES) - NEVER_ENTERED)
    assert not missing, f"states with no fuzz route (add them to ROUTES): {missing}"
    assert not set(ROUTES) - set(states), f"routes to states that no longer exist: {set(ROUTES) - set(states)}"


async def reach(world: World, target: str) -> None:
    await world.setup()
    await world.play(ROUTES[target])
    reached = await world.state()
    assert reached == target, (f"the route to {target} ended at {reached}; the last answer: "
                               f"{world.last.text[-300:] if world.last else None!r}")


# Steps that stay where they are when they accept input (the next blank of the same attempt), and what
# they may write then.
STAYS_AND_WRITES = {"ExamTake:blank": {"exam_answers"}, "QuizStates:blank": {"quiz_items"}}

# Reached anew by a new visitor for each example: what a registration step accepts registers the person.
REPLAYED = {"Reg:agreement", "Reg:phone", "Reg:name", "Reg:org_name"}


async def type_one(world: World, target: str, saved: tuple[str | None, dict], text: str) -> None:
    env = world.env
    if target in REPLAYED:
        world.new_visitor()
        await world.play(ROUTES[target])
        assert await world.state() == target, f"a new visitor did not reach {target}"
    client = world.client()
    fsm = env.fsm(client)
    if target not in REPLAYED:
        await fsm.set_state(saved[0])
        await fsm.set_data(saved[1])
    before = await env.counts()
    env.session.typed(text)
    with env.watching():
        sent = await client.send(text)
        problems = env.problems(sent)
    after_state = await fsm.get_state()
    assert not problems, f"{target} <- {text[:200]!r}: {problems}"
    assert sent.texts or sent.answers, f"{target} <- {text[:200]!r}: the bot did not answer"
    group = target.split(":")[0]
    assert after_state is None or after_state.split(":")[0] == group or text.startswith("/"), (
        f"{target} <- {text[:200]!r}: the flow went to {after_state}")
    if after_state == target:
        after = await env.counts()
        changed = {t: (before[t], after.get(t)) for t in before
                   if before[t] != after.get(t) and t not in STAYS_AND_WRITES.get(target, ())}
        assert not changed, f"{target} <- {text[:200]!r} was refused but rows changed: {changed}"


STATES = sorted(set(all_states()) - NEVER_ENTERED)


@pytest.mark.parametrize("target", STATES)
def test_text_into_state(target: str, tmp_path: Path) -> None:
    if target not in ROUTES:
        pytest.fail(f"no route to {target}")

    def body(env: Env) -> None:
        world = World(env)
        env.run(reach(world, target))
        fsm = env.fsm(world.client())
        saved = (env.run(fsm.get_state()), env.run(fsm.get_data()))

        @fuzz_settings()
        @given(text=typed_text())
        def one(text: str) -> None:
            env.run(type_one(world, target, saved, text))

        one()
        env.run(world.tour())  # what was accepted, shown again where it shows

    run_env(tmp_path, body)
