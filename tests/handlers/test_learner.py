"""LEARN-4 records and LEARN-8 report and rank through the dispatcher: what the learner sees, their
own data only (SEC-4), the report chart protected and watermarked (SEC-1, SEC-2), phones masked for
non-admins in the rank lists (SEC-5)."""
from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

from aiogram.methods import EditMessageText, SendMessage, SendPhoto
from PIL import Image

from bot.handlers.learner import send_report
from bot.services import points
from bot.ui.learner import AttemptCD, RankCD, RecordsCD
from bot.ui.menu import MenuCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.learner_factories import Item, make_attempt, make_question
from tests.support.sql import file_rows as rows

ME, OTHER, ADMIN = 400001, 400002, 400009


async def award(store, user_id, source, day, amount, key):
    await store.award_points(user_id, source, day.isoformat(), amount, cap=None, best_of_day=False, ref="t",
                             reason=None, idem_key=f"t:{key}", now="2026-11-23T09:00:00+08:00")


async def questions(store):
    single = await make_question(store, "single", "党的根本宗旨是什么？", ["A"],
                                 options=["全心全意为人民服务", "发展经济", "对外开放"],
                                 explanation="党章规定：全心全意为人民服务是党的根本宗旨。",
                                 en=("What is the Party's fundamental purpose?",
                                     ["Serve the people wholeheartedly", "Develop the economy", "Opening up"],
                                     "The Party constitution says so."))
    multiple = await make_question(store, "multiple", "下列哪些属于“四个意识”？", ["A", "B"],
                                   options=["政治意识", "大局意识", "市场意识"], explanation="四个意识包括政治意识、大局意识等。")
    judge = await make_question(store, "judge", "每日答题每天最多得 5 分。", ["T"], explanation="每日答题积分上限为 5 分。")
    blank = await make_question(store, "blank", "中国共产党成立于____年。", [["1921", "一九二一"]],
                                explanation="1921 年 7 月，中国共产党第一次全国代表大会召开。")
    return single, multiple, judge, blank


# -- LEARN-4 records -----------------------------------------------------------------------------
async def test_learn_4_no_attempts_yet(store, client_factory):
    await make_user(store, ME)
    sent = await client_factory(ME).send("/records")
    assert "您还没有答题记录" in sent.text
    assert "今天：答题 <b>0</b> 次" in sent.text and "最好成绩 <b>—</b>" in sent.text


async def test_learn_4_records_by_date_newest_first_with_today_header(store, client_factory, clock, settings):
    await make_user(store, ME)
    q1, q2, q3, q4 = await questions(store)
    today = clock.today()
    yesterday = (today - timedelta(days=1)).isoformat()
    await make_attempt(store, ME, [Item(q1, ["A"], True), Item(q2, ["A"], False)], day=yesterday,
                       submitted_at=f"{yesterday}T20:15:00+08:00")
    await make_attempt(store, ME, [Item(q, None, False) for q in (q1, q2, q3, q4)] + [Item(q1, ["A"], True)],
                       kind="weekly", day=today.isoformat(), submitted_at=f"{today}T08:05:00+08:00", flagged=True)
    await make_attempt(store, ME, [Item(q, ["x"], True) for q in (q1, q2, q3, q4)] + [Item(q1, ["B"], False)],
                       day=today.isoformat(), submitted_at=f"{today}T09:30:00+08:00")
    await make_attempt(store, ME, [Item(q1, ["A"], True)], day=today.isoformat(), status="open")  # not a record
    await make_attempt(store, ME, [], kind="challenge", day=today.isoformat(), status="expired")  # nor this
    await make_user(store, OTHER, "李娜")
    await make_attempt(store, OTHER, [Item(q1, ["A"], True)], day=today.isoformat())  # someone else's
    await award(store, ME, points.DAILY, today, 4, "d1")
    await award(store, ME, points.WEEKLY, today, 1, "w1")

    sent = await client_factory(ME).send("/records")
    text = sent.text
    ledger_today = rows(settings, "SELECT SUM(amount) FROM points WHERE user_id = ? AND day = ?", ME,
                        today.isoformat())[0][0]
    assert ledger_today == 6  # the daily login of this very update counts too
    assert f"今天：答题 <b>2</b> 次 · 积分 <b>{ledger_today}</b> 分 · 最好成绩 <b>4/5</b>" in text
    lines = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert lines == ["1. 09:30 每日答题 <b>4/5</b> · 4 分", "2. 08:05 每周一答 <b>1/5</b> · 1 分 ⚡",
                     "3. 20:15 每日答题 <b>1/2</b> · 1 分"]
    assert text.index(f"<b>{today}</b>") < text.index("1. 09:30") < text.index(f"<b>{yesterday}</b>") \
        < text.index("3. 20:15")
    assert "⚡ 表示该次答题用时过短" in text
    assert "第 1/1 页，共 3 次" in text
    assert [label for label, _ in sent.buttons()] == ["1. 每日答题 4/5", "2. 每周一答 1/5", "3. 每日答题 1/2"]


async def test_learn_4_records_page_through(store, client_factory, clock):
    await make_user(store, ME)
    q1, *_ = await questions(store)
    start = clock.today() - timedelta(days=22)
    for i in range(23):
        day = (start + timedelta(days=i)).isoformat()
        await make_attempt(store, ME, [Item(q1, ["A"], True)], day=day)
    client = client_factory(ME)
    first = await client.send("/records")
    assert "第 1/3 页，共 23 次" in first.text and "1. 10:00" in first.text
    assert f"<b>{clock.today()}</b>" in first.text
    second = await client.press(first, "下一页")
    edit = second.of(EditMessageText)[-1]
    assert "第 2/3 页" in edit.text and "11. 10:00" in edit.text and "20. 10:00" in edit.text
    assert "21." not in edit.text
    third = await client.press(second, "下一页")
    assert "第 3/3 页" in third.text and "23. 10:00" in third.text and f"<b>{start}</b>" in third.text
    assert "下一页" not in str(third.buttons())
    back = await client.press(third, "上一页")
    assert "第 2/3 页" in back.text
    beyond = await client.click(RecordsCD(page=99).pack())  # forged: a made-up page shows the last one
    assert "第 3/3 页" in beyond.text


async def test_learn_4_review_answers_and_explanations(store, client_factory, clock):
    await make_user(store, ME)
    q1, q2, q3, q4 = await questions(store)
    attempt = await make_attempt(store, ME, [Item(q1, ["B"], False), Item(q2, ["A", "B"], True),
                                             Item(q3, ["F"], False, fast=True), Item(q4, ["一九二一"], True),
                                             Item(q1, None, False)], day=clock.today().isoformat())
    client = client_factory(ME)
    listing = await client.send("/records")
    sent = await client.press(listing, "1. 每日答题 2/5")
    assert sent.of(SendMessage) and sent.answers[-1].text is None
    text = sent.text
    assert "成绩 <b>2/5</b>（正确率 40%）· 积分 2 分" in text
    blocks = text.split("\n\n")[1:]
    assert blocks[0] == ("<b>1. 【单选题】</b>党的根本宗旨是什么？\nA. 全心全意为人民服务\nB. 发展经济\nC. 对外开放\n"
                         "❌ 您的答案：B\n正确答案：A\n💡 解析：党章规定：全心全意为人民服务是党的根本宗旨。")
    assert "✅ 您的答案：A、B\n正确答案：A、B" in blocks[1] and "【多选题】</b>下列哪些属于“四个意识”？" in blocks[1]
    assert "❌ 您的答案：错误\n正确答案：正确\n⚡ 作答过快" in blocks[2]
    assert "✅ 您的答案：一九二一\n正确答案：1921 / 一九二一\n💡 解析：1921 年 7 月" in blocks[3]
    assert "❌ 您的答案：未作答" in blocks[4]
    assert sent.buttons() == [("🗂 返回答题记录", MenuCD(item="records").pack())]
    assert AttemptCD(attempt_id=attempt).pack() == listing.button("1. 每日答题")


async def test_learn_4_review_in_english_with_chinese_fallback(store, client_factory, clock):
    await make_user(store, ME)
    q1, q2, *_ = await questions(store)
    await make_attempt(store, ME, [Item(q1, ["A"], True), Item(q2, ["C"], False)],
                       day=clock.today().isoformat())
    client = client_factory(ME, language_code="en")
    sent = await client.press(await client.send("/records"), "1.")
    assert "Score <b>1/2</b> (50% correct)" in sent.text
    assert "<b>1. [Single choice]</b> What is the Party's fundamental purpose?\nA. Serve the people wholeheartedly" \
        in sent.text
    assert "✅ Your answer: A\nCorrect answer: A\n💡 Explanation: The Party constitution says so." in sent.text
    assert "<b>2. [Multiple choice]</b> 下列哪些属于“四个意识”？" in sent.text  # no English text: Chinese
    assert "❌ Your answer: C\nCorrect answer: A、B" in sent.text


async def test_learn_4_someone_elses_attempt_is_refused(store, client_factory, clock):
    await make_user(store, ME)
    await make_user(store, OTHER, "李娜")
    q1, *_ = await questions(store)
    theirs = await make_attempt(store, OTHER, [Item(q1, ["A"], True)], day=clock.today().isoformat())
    open_one = await make_attempt(store, ME, [Item(q1, ["A"], True)], day=clock.today().isoformat(), status="open")
    client = client_factory(ME)
    for attempt_id in (theirs, 999999):
        sent = await client.click(AttemptCD(attempt_id=attempt_id).pack())  # forged: not theirs, or none
        assert not sent.of(SendMessage)
        assert sent.answers[-1].show_alert and "只能查看您自己的答题记录" in sent.answers[-1].text
    sent = await client.click(AttemptCD(attempt_id=open_one).pack())  # forged: an open attempt is not listed
    assert not sent.of(SendMessage) and "还没有交卷" in sent.answers[-1].text


async def test_learn_4_menu_button_opens_records(store, client_factory):
    await make_user(store, ME)
    client = client_factory(ME)
    sent = await client.press(await client.start(), "🗂 答题记录")
    assert "🗂 <b>答题记录</b>" in sent.text and "您还没有答题记录" in sent.text


# -- LEARN-8 report ------------------------------------------------------------------------------
async def test_learn_8_report_matches_the_ledger(store, client_factory, clock, settings):
    await make_user(store, ME)
    today = clock.today()
    plan = [(0, points.DAILY, 5), (0, points.CHALLENGE, 6), (1, points.DAILY, 3), (1, points.LOGIN, 1),
            (3, points.WEEKLY, 4), (3, points.PENALTY, -2), (6, points.ACTIVITY, 10), (7, points.DAILY, 5),
            (30, points.EXAM, 20)]
    for n, (ago, source, amount) in enumerate(plan):
        await award(store, ME, source, today - timedelta(days=ago), amount, n)
    await make_user(store, OTHER, "李娜")
    await award(store, OTHER, points.DAILY, today, 5, "someone-else")  # not in my report

    sent = await client_factory(ME).send("/report")
    start = (today - timedelta(days=6)).isoformat()
    text = sent.of(SendMessage)[0].text
    assert sent.of(SendMessage)[0].protect_content is True
    by_day = dict(rows(settings, "SELECT day, SUM(amount) FROM points WHERE user_id = ? AND day >= ? GROUP BY day",
                       ME, start))
    labels = {"login": "每日登录", "daily": "每日答题", "weekly": "每周一答", "challenge": "挑战答题",
              "activity": "集体活动", "penalty": "扣分", "exam": "专题考试"}
    for i in range(7):
        day = today - timedelta(days=6 - i)
        expected = by_day.get(day.isoformat(), 0)
        assert re.search(rf"^{day:%m-%d}　<b>{expected}</b> 分", text, re.M), (day, expected, text)
    assert f"{today:%m-%d}　<b>12</b> 分（每日登录 1，每日答题 5，挑战答题 6）" in text  # login of this update
    assert f"{today - timedelta(days=3):%m-%d}　<b>2</b> 分（每周一答 4，扣分 -2）" in text
    assert f"{today - timedelta(days=2):%m-%d}　<b>0</b> 分\n" in text
    by_source = rows(settings, "SELECT source, SUM(amount) FROM points WHERE user_id = ? AND day >= ? GROUP BY source",
                     ME, start)
    for source, amount in by_source:
        assert f"• {labels[source]}：{amount} 分" in text
    assert "专题考试" not in text  # 30 days ago: outside the week
    week = sum(by_day.values())
    total = rows(settings, "SELECT SUM(amount) FROM points WHERE user_id = ?", ME)[0][0]
    assert (week, total) == (28, 53)
    assert f"近 7 天合计：<b>{week}</b> 分" in text and f"累计积分：<b>{total}</b> 分" in text

    photo = sent.of(SendPhoto)[0]
    assert photo.protect_content is True
    assert photo.caption == f"📊 近 7 天积分（{start} 至 {today}）"
    image = Image.open(BytesIO(photo.photo.data))
    image.load()
    assert image.format == "PNG" and image.size == (800, 480)
    assert len(photo.photo.data) < 300_000


async def test_learn_8_report_in_english(store, client_factory, clock):
    await make_user(store, ME)
    await award(store, ME, points.DAILY, clock.today(), 3, "d")
    client = client_factory(ME, language_code="en")
    sent = await client.press(await client.start(), "📊 My report")
    assert "Last 7 days" in sent.text and "• Daily quiz: 3 pts" in sent.text and "Total points: <b>4</b>" in sent.text
    assert sent.of(SendPhoto)[0].protect_content is True


async def test_learn_8_report_without_points_says_so(store, clock, i18n):
    """The daily login pays a point on a person's first update of the day, so the empty state is only
    reachable for someone whose ledger is empty: checked on the renderer with a stand-in message."""
    from bot.services.roles import Actor

    await make_user(store, ME)

    class Message:
        def __init__(self):
            self.calls = []

        async def answer(self, text, **kwargs):
            self.calls.append(("text", text, kwargs))

        async def answer_photo(self, photo, **kwargs):
            self.calls.append(("photo", photo, kwargs))

    message = Message()
    await send_report(message, store, clock, Actor(user=await store.get_user(ME)), i18n.translator("zh"))
    assert message.calls == [("text", i18n.t("zh", "learner.report.empty"), {})]


# -- LEARN-8 rank --------------------------------------------------------------------------------
P2, P3, P4, P5, STRANGER = 400102, 400103, 400104, 400105, 400199


async def rank_world(store, clock):
    """Org A: ME 5/15, P2 8/8 (admin), P3 5/30, P4 0/15, an unregistered member; org B: ME and P5 20/20 and
    twelve more registered members with 21..32 points; a stranger with 100 points in neither."""
    today = clock.today()
    old = today - timedelta(days=10)
    for uid, name in ((ME, "张伟"), (P2, "王强"), (P3, "李娜"), (P4, "赵敏"), (P5, "孙丽"), (STRANGER, "外人"),
                      (ADMIN, "管理员")):
        await make_user(store, uid, name, verified=uid in (P2, ADMIN))
    org_a = await make_org(store, "甲学习组织", ADMIN, admins=[P2], branches=["一支部", "二支部"], certified=True)
    org_b = await make_org(store, "乙学习组织", ADMIN)
    phone = lambda uid: f"+86138{uid % 100000000:08d}"  # noqa: E731
    await make_member(store, org_a, "张伟", phone(ME), "一支部", activated=True)
    await make_member(store, org_a, "王强", phone(P2), "一支部", activated=True)
    await make_member(store, org_a, "李娜", phone(P3), "二支部", activated=True)
    await make_member(store, org_a, "赵敏", phone(P4), None, activated=True)
    await make_member(store, org_a, "未注册", "+8613900000009", "二支部")
    await make_member(store, org_b, "张伟", phone(ME), activated=True)
    await make_member(store, org_b, "孙丽", phone(P5), activated=True)
    await points.daily_login(store, clock, ME)  # what /rank's own update would pay
    plan = [(ME, today, 4), (ME, old, 10), (P2, today, 8), (P3, today, 5), (P3, old, 25), (P4, old, 15),
            (P5, today, 20), (STRANGER, today, 100)]
    for n, (uid, day, amount) in enumerate(plan):
        await award(store, uid, points.DAILY, day, amount, f"r{n}")
    for i in range(12):
        uid = 400200 + i
        await make_user(store, uid, f"成员{i:02d}")
        await make_member(store, org_b, f"成员{i:02d}", phone(uid), activated=True)
        await award(store, uid, points.DAILY, today, 21 + i, f"b{i}")
    return org_a, org_b


def rank_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\d+\. ", line)]


async def test_learn_8_rank_in_each_organisation_with_ties(store, client_factory, clock, settings):
    org_a, org_b = await rank_world(store, clock)
    sent = await client_factory(ME).send("/rank")
    messages = sent.of(SendMessage)
    assert len(messages) == 2 and all(m.protect_content for m in messages)
    a, b = sorted((m.text for m in messages), key=lambda t: "乙学习组织" in t)
    assert "🏆 <b>甲学习组织</b>" in a and "参与排名：4 名已注册成员" in a
    assert "我的排名：近 7 天第 <b>2</b> 名（5 分）；累计第 <b>2</b> 名（15 分）" in a
    assert rank_lines(a) == ["1. 王强 138****0102 — 8 分", "2. 张伟 138****0001 — 5 分 👈 我",
                             "2. 李娜 138****0103 — 5 分", "4. 赵敏 138****0104 — 0 分"]
    assert "未注册" not in a and "外人" not in a
    assert "乙学习组织" in b and "参与排名：14 名已注册成员" in b
    assert "我的排名：近 7 天第 <b>14</b> 名（5 分）；累计第 <b>14</b> 名（15 分）" in b
    top = rank_lines(b)
    assert len(top) == 10 and top[0] == "1. 成员11 138****0211 — 32 分" and top[-1].startswith("10. 成员02 ")
    assert "张伟" not in "\n".join(top)

    message_a = next(m for m in messages if "甲学习组织" in m.text)
    total = await client_factory(ME).press(message_a, "🏅 看累计积分排名")
    edit = total.of(EditMessageText)[-1]
    assert "<b>累计积分前 10 名</b>" in edit.text
    assert rank_lines(edit.text) == ["1. 李娜 138****0103 — 30 分", "2. 张伟 138****0001 — 15 分 👈 我",
                                     "2. 赵敏 138****0104 — 15 分", "4. 王强 138****0102 — 8 分"]
    back = await client_factory(ME).press(total, "📅 看近 7 天积分排名")
    assert "<b>近 7 天积分前 10 名</b>" in back.text
    # the figures are the ledger's
    assert rows(settings, "SELECT SUM(amount) FROM points WHERE user_id = ?", P3)[0][0] == 30


async def test_sec_5_admins_see_whole_phones_in_their_organisation(store, client_factory, clock):
    org_a, _ = await rank_world(store, clock)
    await points.daily_login(store, clock, P2)
    sent = await client_factory(P2).send("/rank")
    (text,) = sent.texts
    assert "1. 王强 13800400102 — 9 分 👈 我" in text and "2. 张伟 13800400001 — 5 分" in text


async def test_learn_8_rank_refused_for_an_organisation_one_is_not_in(store, client_factory, clock):
    await rank_world(store, clock)
    other = await make_org(store, "丙学习组织", ADMIN)
    for org_id in (other, 987654):
        sent = await client_factory(ME).click(RankCD(org_id=org_id, by="t").pack())  # forged: not their organisation
        assert not sent.of(EditMessageText)
        assert sent.answers[-1].show_alert and "您已不在这个学习组织中" in sent.answers[-1].text


async def test_learn_8_rank_without_organisation(store, client_factory):
    await make_user(store, ME)
    client = client_factory(ME)
    sent = await client.press(await client.start(), "🏆 组内排名")
    assert "您还没有加入任何学习组织，暂无组内排名" in sent.text


def test_learn_4_long_reviews_are_split_below_telegram_limits():
    from bot.handlers.learner import pack

    blocks = ["头"] + [f"<b>{n}.</b> " + "题" * 1500 for n in range(1, 6)] + ["&amp;" * 1000]
    messages = pack(blocks)
    assert all(len(m) <= 3900 for m in messages) and len(messages) == 4
    assert messages[-1].endswith("&amp;…")
    assert "".join(messages).count("题") == 7500
