"""LEARN-1: a bank's keepers page through it, open a question, retire and restore it; retired
questions are no longer drawn; nobody else can do any of it (SEC-4)."""
from __future__ import annotations

from bot.ui.question_bank import BankCD
from tests.conftest import OPERATOR_ID
from tests.support.factories import make_org, make_user
from tests.support.quiz_factories import make_bank, make_question
from tests.support.sql import file_rows as rows

MAIN, OTHER_ADMIN, MEMBER = 100001, 100002, 100003


async def setup(store) -> tuple[int, dict[int, str]]:
    for uid in (MAIN, OTHER_ADMIN):
        await make_user(store, uid, verified=True)
    await make_user(store, MEMBER)
    org = await make_org(store, "金水区委宣传部", MAIN)
    await make_org(store, "别的组织", OTHER_ADMIN)
    bank = await make_bank(store, 10, org_id=org)
    return org, bank


async def test_learn_1_admin_pages_through_the_bank_from_the_org_card(client_factory, store):
    org, bank = await setup(store)
    c = client_factory(MAIN)
    card = await c.send("/org")
    first = await c.press(card, "📚 题库")
    assert "题库：<b>金水区委宣传部</b>（在用 10 道，已停用 0 道）" in first.text
    assert "第 1–8 道，共 10 道" in first.text
    newest = max(bank)
    assert f"1. #{newest} [单选] 题10：答案是 B" in first.text
    assert [b for b, _ in first.buttons()] == ["1", "2", "3", "4", "5", "6", "7", "8", "下一页 ➡️"]
    second = await c.press(first, "下一页 ➡️")
    assert "第 9–10 道，共 10 道" in second.text and f"2. #{min(bank)} [单选] 题1：答案是 A" in second.text
    assert [b for b, _ in second.buttons()] == ["1", "2", "⬅️ 上一页"]


async def test_learn_1_open_retire_restore_and_draws_follow(client_factory, store, clock, settings):
    for uid in (MAIN, MEMBER):
        await make_user(store, uid, verified=uid == MAIN)
    org = await make_org(store, "金水区委宣传部", MAIN)
    qid = await make_question(store, "judge", "宪法是国家的根本法。", answer=("T",), explanation="宪法第一条之后的序言写明。",
                              org_id=org)
    c = client_factory(MAIN)
    page = await c.press(await c.send("/org"), "📚 题库")
    shown = await c.press(page, "1")
    assert f"<b>题目 #{qid}</b> · 判断 · 金水区委宣传部" in shown.text
    assert "宪法是国家的根本法。" in shown.text and "✅ 答案：正确" in shown.text and "💡 解析：宪法第一条" in shown.text
    assert "无英文版" in shown.text
    assert [b for b, _ in shown.buttons()] == ["⛔ 停用此题", "⬅️ 返回题库"]
    retired = await c.press(shown, "⛔ 停用此题")
    assert retired.answers[-1].text == "已停用，这道题不会再被抽到。"
    assert "⛔ 已停用" in retired.text and [b for b, _ in retired.buttons()] == ["♻️ 恢复使用", "⬅️ 返回题库"]
    assert rows(settings, "SELECT retired_at FROM questions") == [(clock.now().isoformat(),)]
    assert rows(settings, "SELECT actor_id, org_id, action FROM audit_log WHERE action LIKE 'question.%'") == [
        (MAIN, org, "question.retire")]
    # pressed again (a stale button): nothing more happens
    await c.click(shown.button("⛔ 停用此题"))  # stale: the button as first shown
    assert len(rows(settings, "SELECT id FROM audit_log WHERE action = 'question.retire'")) == 1
    listed = await c.press(retired, "⬅️ 返回题库")
    assert "（在用 0 道，已停用 1 道）" in listed.text and "<s>宪法是国家的根本法。</s>（已停用）" in listed.text
    # a member of the organisation's subtree no longer draws it
    assert await store.draw_for_scope(org, 5) == []
    restored = await c.press(await c.press(listed, "1"), "♻️ 恢复使用")
    assert restored.answers[-1].text == "已恢复，这道题会重新被抽到。"
    assert rows(settings, "SELECT retired_at FROM questions") == [(None,)]
    assert await store.draw_for_scope(org, 5) == [qid]


async def test_sec_4_only_the_banks_keepers_may_browse_or_retire(client_factory, store, settings):
    org, bank = await setup(store)
    qid = min(bank)
    for uid in (OTHER_ADMIN, MEMBER):
        c = client_factory(uid)
        for data in (BankCD(act="page", org=org), BankCD(act="open", org=org, q=qid),
                     BankCD(act="retire", org=org, q=qid), BankCD(act="page", org=0)):
            sent = await c.click(data.pack())  # forged: not their bank
            assert sent.answers[-1].show_alert and "没有执行此操作的权限" in sent.answers[-1].text
            assert not sent.texts
    assert rows(settings, "SELECT count(*) FROM questions WHERE retired_at IS NOT NULL") == [(0,)]
    # a forged org id does not help: the question's own bank is checked
    sent = await client_factory(OTHER_ADMIN).click(BankCD(act="retire", org=org + 1, q=qid).pack())  # forged:
    assert "没有执行此操作的权限" in sent.answers[-1].text


async def test_learn_1_operator_browses_the_global_bank_and_empty_banks_say_how_to_fill_them(
        client_factory, store):
    await make_user(store, OPERATOR_ID, "运营")
    op = client_factory(OPERATOR_ID)
    empty = await op.press(await op.send("/import"), "📚 题库")
    assert "题库：<b>全局题库</b>（在用 0 道" in empty.text and "/import questions" in empty.text
    assert empty.buttons() == []
    await make_bank(store, 3)
    full = await op.press(await op.send("/import"), "📚 题库")
    assert "在用 3 道" in full.text and [b for b, _ in full.buttons()] == ["1", "2", "3"]
    # an admin is not the global bank's keeper
    await make_user(store, MAIN, verified=True)
    await make_org(store, "金水区委宣传部", MAIN)
    forged = await client_factory(MAIN).click(BankCD(act="page", org=0).pack())  # forged: the global bank's button
    assert "没有执行此操作的权限" in forged.answers[-1].text


async def test_learn_1_english_admin_sees_english_texts(client_factory, store):
    await make_user(store, MAIN, verified=True)
    org = await make_org(store, "County Office", MAIN)
    await make_question(store, "single", "中文题干", options=("甲", "乙"), answer=("B",), org_id=org,
                        en=("English stem", ("first", "second"), "Because."))
    c = client_factory(MAIN, language_code="en")
    page = await c.press(await c.send("/org"), "📚 Question bank")
    assert "Question bank: <b>County Office</b> (1 in use, 0 retired)" in page.text and "English stem" in page.text
    shown = await c.press(page, "1")
    assert "A. first" in shown.text and "✅ Answer: B" in shown.text and "Explanation: Because." in shown.text
    assert "Has an English version" in shown.text
