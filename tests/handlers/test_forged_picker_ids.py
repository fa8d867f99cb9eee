"""SEC-4: ids a picker press carries are never trusted. An admin of an unrelated organisation forges
the presses of the exam question picker (another organisation's private question, an id that does not
exist) and of the branch pickers of /task and /activity (another organisation's branch); each press is
refused with a message naming what is wrong, and the services refuse such a draft whoever calls them.
The report recipient picker, moving a member and the question bank checked their ids already; a forged
press of each is here too."""
from __future__ import annotations

from functools import partial

import pytest

from bot.errors import DomainError
from bot.i18n import I18n
from bot.render.question_sheet import labels_from
from bot.repositories.tasks import Target
from bot.services import activities, exams, tasks
from bot.ui.activities import ActCreateCD, CreateAction
from bot.ui.exams import ExamNewCD, NewAct
from bot.ui.members import MoveCD
from bot.ui.question_bank import BankAction, BankCD
from bot.ui.reports import SettingsAction, SettingsCD
from bot.ui.tasks import ComposeAction, ComposeCD
from tests.handlers.test_exams_sources import sheet
from tests.support.exam_factories import actor, exam_world, settings
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank, make_question

ADMIN, OTHER = 510001, 510004  # the bank's organisation's admin; an admin of an unrelated organisation
MISSING = 987654  # an id no question or branch has

T = I18n()


def zh(key: str) -> str:
    return T.t("zh", key)


def alert(sent) -> str:
    return next(a.text for a in sent.answers if a.show_alert) if any(a.show_alert for a in sent.answers) else ""


async def other_org(store) -> int:
    await make_user(store, OTHER, "外单位", verified=True)
    other = await make_org(store, "邻县委宣传部", OTHER, branches=["甲支部"], certified=True)
    await make_member(store, other, "甲", await make_user(store, 510005, "甲"), "甲支部", activated=True)
    return other


async def branch_id(store, org_id: int) -> int:
    return (await store._one("SELECT id FROM branches WHERE org_id = ? ORDER BY id LIMIT 1", (org_id,)))["id"]


# -- the exam question picker -----------------------------------------------------------------------------

async def test_sec_4_exam_picker_refuses_another_organisations_question_and_an_unknown_id(store, client_factory):
    w = await exam_world(store)  # its bank (4 questions) is private to 中共某村支部委员会
    other = await other_org(store)
    own = await make_bank(store, 2, org_id=other, prefix="本单位")
    c = client_factory(OTHER, "外单位")
    new = await c.press(await c.press(await c.send("/exams"), "管理考试"), "新建考试")
    assert "第 1 步" in new.text
    page = await c.press(await c.send("窃题考试"), "从题库挑选")
    assert "共 2 道，已选 0 道" in page.text
    foreign = next(iter(w.bank))
    for forged in (foreign, MISSING):
        sent = await c.click(ExamNewCD(act=NewAct.TOGGLE, v=forged).pack())  # forged: not in their bank
        assert alert(sent) == zh("errors.exams.question_unavailable"), (forged, sent.answers, sent.texts)
        assert not sent.messages
    page = await c.press(page, "⬜ 1")  # the picker still works for the questions it shows
    assert "已选 1 道" in page.text
    limit = await c.press(page, "选好了（1 道）")
    assert "已选 1 道题" in limit.text
    await c.send("5")
    await c.send("2026-11-25 18:00")
    await c.send("1")
    policy = await c.press(await c.send("1"), "不给积分")
    saved = await c.press(policy, "超时清空")
    assert "考试已保存" in saved.text
    used = [r["question_id"] for r in await store._all("SELECT question_id FROM exam_questions")]
    assert used == [min(own)], "only the organisation's own question went into the exam"


async def test_sec_4_exam_create_refuses_a_draft_with_ids_the_organisation_may_not_use(store, clock):
    w = await exam_world(store)
    other = await other_org(store)
    other_admin = await actor(store, OTHER, frozenset({other}))
    own = list(await make_bank(store, 2, org_id=other))
    retired = await make_question(store, stem="停用题", org_id=other, retired=True)
    shared = await make_question(store, stem="全局题")  # the global bank: every organisation's exams may use it
    for bad in ([*own, next(iter(w.bank))], [own[0], MISSING], [own[0], retired]):
        with pytest.raises(DomainError) as refused:
            await exams.create(store, clock, other_admin, other, settings(clock, pass_mark=1), bad)
        assert refused.value.key == "exams.question_unavailable", bad
    with pytest.raises(DomainError) as twice:
        await exams.create(store, clock, other_admin, other, settings(clock, pass_mark=1), [own[0], own[0]])
    assert twice.value.key == "exams.question_twice"
    assert await store._all("SELECT id FROM exams") == []
    exam_id = await exams.create(store, clock, other_admin, other, settings(clock, pass_mark=1), [*own, shared])
    with pytest.raises(DomainError) as edited:  # editing goes through the same check
        await exams.create(store, clock, other_admin, other, settings(clock, pass_mark=1), list(w.bank), exam_id)
    assert edited.value.key == "exams.question_unavailable"
    with pytest.raises(DomainError) as moved:  # an exam edited under another organisation's id is refused
        await exams.create(store, clock, w.admin, w.org_id, settings(clock, pass_mark=1), list(w.bank), exam_id)
    assert moved.value.key == "not_allowed"
    rows = await store._all("SELECT question_id FROM exam_questions WHERE exam_id = ? ORDER BY position", (exam_id,))
    assert [r["question_id"] for r in rows] == [*own, shared]


async def test_sec_4_a_sheet_row_matching_a_retired_question_is_not_put_into_the_exam(store, clock):
    w = await exam_world(store)
    data = sheet([["判断", "宪法是国家的根本法。", "", "", "", "", "", "", "对", "", ""],
                  ["判断", "党章是党的根本大法。", "", "", "", "", "", "", "对", "", ""]])
    labels = [labels_from(partial(T.t, lang)) for lang in T.languages]
    ids, rejected = await exams.from_sheet(store, clock, w.admin, w.org_id, data, labels)
    assert len(ids) == 2 and rejected == 0
    await store.set_question_retired(ADMIN, ids[0], True, "#1", clock.now().isoformat())
    again, rejected = await exams.from_sheet(store, clock, w.admin, w.org_id, data, labels)
    assert again == ids[1:] and rejected == 1, "the retired question is counted among the rows not used"
    assert await exams.create(store, clock, w.admin, w.org_id, settings(clock, pass_mark=1), again)


# -- the branch pickers of /task and /activity --------------------------------------------------------------

async def task_org(store) -> int:
    await make_user(store, ADMIN, "王管理", verified=True)
    org = await make_org(store, "某县委宣传部", ADMIN, branches=["第一支部", "第二支部"], certified=True)
    await make_member(store, org, "成员", await make_user(store, 510006, "成员"), "第一支部", activated=True)
    return org


async def test_sec_4_task_branch_picker_refuses_another_organisations_branch(store, client_factory, clock):
    org = await task_org(store)
    other = await other_org(store)
    foreign = await branch_id(store, other)
    c = client_factory(ADMIN, "王管理")
    await c.send("/task")
    picker = await c.press(await c.send("请学习党章。"), "选定的支部")
    for forged in (foreign, MISSING):
        sent = await c.click(ComposeCD(action=ComposeAction.branch, value=forged).pack())  # forged: not theirs
        assert alert(sent) == zh("errors.task.branch_unavailable"), (forged, sent.answers)
    await c.press(picker, "第一支部")
    deadline = await c.press(picker, "选好了")  # the draft holds the organisation's own branch only
    assert "截止" in deadline.text, deadline.answers
    admin = await actor(store, ADMIN, frozenset({org}))
    with pytest.raises(DomainError) as refused:  # the service refuses such a target whoever built it
        await tasks.send_task(store, clock, admin, Target("branches", org, (foreign,)), "请学习党章。")
    assert refused.value.key == "task.branch_unavailable"
    assert await store._all("SELECT id FROM tasks") == []


async def test_sec_4_activity_branch_picker_refuses_another_organisations_branch(store, client_factory, clock):
    org = await task_org(store)
    other = await other_org(store)
    foreign = await branch_id(store, other)
    c = client_factory(ADMIN, "王管理")
    sent = await c.press(await c.press(await c.send("/activity"), "新建活动"), "党课")
    await c.send("专题党课")
    await c.send("2026-11-23 16:00-18:00")
    picker = await c.press(await c.send("3"), "选定的支部")
    sent = await c.click(ActCreateCD(action=CreateAction.branch, value=foreign).pack())  # forged: not theirs
    assert alert(sent) == zh("errors.task.branch_unavailable"), sent.answers
    await c.press(picker, "第一支部")
    preview = await c.press(picker, "选好了")  # the draft holds the organisation's own branch only
    assert "创建" in str(preview.buttons()), preview.answers
    admin = await actor(store, ADMIN, frozenset({org}))
    start, end = activities.parse_window("2026-11-23 16:00-18:00", clock)
    with pytest.raises(DomainError) as refused:
        await activities.create(store, clock, admin, Target("branches", org, (foreign,)), "class", "专题党课",
                                start, end, 3)
    assert refused.value.key == "task.branch_unavailable"
    assert await store._all("SELECT id FROM activities") == []


# -- pickers that already checked their ids: kept so (report recipients, member move, question bank) --------

async def test_sec_4_forged_recipient_branch_and_question_ids_are_refused_by_name(store, client_factory):
    org = await task_org(store)
    other = await other_org(store)
    own_member = (await store._one("SELECT id FROM members WHERE org_id = ?", (org,)))["id"]
    foreign_question = await make_question(store, stem="邻县内部题", org_id=other)
    c = client_factory(ADMIN, "王管理")
    forged = {  # press -> the message it gets
        SettingsCD(act=SettingsAction.pick, org=org, user=510005).pack(): "errors.reports.bad_recipient",
        MoveCD(member_id=own_member, branch_id=await branch_id(store, other)).pack(): "errors.mem.branch_gone",
        BankCD(act=BankAction.open, org=org, q=foreign_question).pack(): "errors.not_allowed",
        BankCD(act=BankAction.retire, org=org, q=foreign_question).pack(): "errors.not_allowed",
    }
    for data, key in forged.items():
        sent = await c.click(data)  # forged: another organisation's person, branch, question
        assert alert(sent) == zh(key), (data, sent.answers)
        assert not sent.messages, data
    assert (await store.report_settings(org)).recipients == ()
    assert (await store._one("SELECT b.name FROM members m JOIN branches b ON b.id = m.branch_id WHERE m.id = ?",
                             (own_member,)))["name"] == "第一支部"
    assert (await store._one("SELECT retired_at FROM questions WHERE id = ?", (foreign_question,)))[0] is None
