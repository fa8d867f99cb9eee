"""WORK-3 manuscripts through the dispatcher: the correspondent flag from the member screen, /manuscript
(title, text, attachments within 20 MB, column), /review (reject with a reason, forward level by level,
accept), the author's timeline after every step; per-organisation counts; SEC-4 on forged buttons."""
from __future__ import annotations

from aiogram.methods import SendMessage

from bot.services import manuscripts as svc
from bot.ui.manuscripts import ReviewAction, ReviewCD
from tests.support.factories import make_member, make_org, make_user
from tests.support.sql import file_rows as rows

PROVINCE_ADMIN, CITY_ADMIN, COUNTY_ADMIN, LONE_ADMIN, WRITER = 100001, 100002, 100003, 100004, 200001


async def setup(store):
    for uid, name in ((PROVINCE_ADMIN, "省管理"), (CITY_ADMIN, "市管理"), (COUNTY_ADMIN, "县管理"),
                      (LONE_ADMIN, "独管理")):
        await make_user(store, uid, name, verified=True)
    province = await make_org(store, "省委宣传部", PROVINCE_ADMIN, certified=True)
    city = await make_org(store, "市委宣传部", CITY_ADMIN, certified=True, parent_id=province)
    county = await make_org(store, "县委宣传部", COUNTY_ADMIN, certified=True, parent_id=city)
    lone = await make_org(store, "未认证组织", LONE_ADMIN)
    phone = await make_user(store, WRITER, "通讯员小李")
    await make_member(store, county, "通讯员小李", phone, activated=True)
    await make_member(store, lone, "通讯员小李", phone, activated=True)
    return province, city, county, lone


async def make_correspondent(admin, name="通讯员小李"):
    card = await admin.press(await admin.send("/members"), name)
    shown = await admin.press(card, "通讯员")
    assert "目前不是通讯员" in shown.text
    return await admin.press(shown, "设为通讯员")


async def walk_submit(writer, files=()):
    listing = await writer.send("/manuscript")
    sent = await writer.press(listing, "新投稿")
    if "投给哪个学习组织" in sent.text:
        sent = await writer.press(sent, "县委宣传部")
    await writer.send("我县开展理论宣讲进基层活动")
    step3 = await writer.send("近日，我县组织宣讲团深入乡镇……")
    last = step3
    for data, name in files:
        last = await writer.document(data, name, file_id=name)
    await writer.press(last, "附件发完了")
    preview = await writer.send("基层动态")
    assert "栏目：基层动态" in preview.text
    return await writer.press(preview, "投稿")


def pushes(session, since):
    return [(c.chat_id, c.text) for c in session.calls[since:] if isinstance(c, SendMessage)]


async def test_work_3_only_correspondents_submit(client_factory, store):
    await setup(store)
    writer = client_factory(WRITER)
    assert "只有通讯员可以投稿" in (await writer.send("/manuscript")).text
    set_flag = await make_correspondent(client_factory(COUNTY_ADMIN))
    assert "是通讯员" in set_flag.text
    assert "还没有投过稿" in (await writer.send("/manuscript")).text


async def test_work_3_county_city_province_with_the_author_seeing_each_step(client_factory, store, outbox,
                                                                             session, settings):
    province, city, county, _lone = await setup(store)
    await make_correspondent(client_factory(COUNTY_ADMIN))
    writer = client_factory(WRITER)
    done = await walk_submit(writer, files=[(b"%PDF-1.4 small", "稿件.pdf")])
    assert "稿件 #1 已投给 县委宣传部" in done.text
    mark = len(session.calls)
    await outbox.flush()
    assert (COUNTY_ADMIN, "📥 收到新稿件“我县开展理论宣讲进基层活动”（作者：通讯员小李，县委宣传部）。发送 /review 审核。") \
        in pushes(session, mark)

    for admin, upper in ((COUNTY_ADMIN, "市委宣传部"), (CITY_ADMIN, "省委宣传部")):
        reviewer = client_factory(admin)
        opened = await reviewer.press(await reviewer.send("/review"), "我县开展理论宣讲进基层活动")
        assert "近日，我县组织宣讲团" in opened.text and opened.of(SendMessage)[0].protect_content is True
        assert any(getattr(c, "document", None) == "稿件.pdf" for c in opened.calls)  # sent again by its file id
        mark = len(session.calls)
        forwarded = await reviewer.press(opened, "转送上级组织")
        assert f"已转送 {upper}" in forwarded.text
        await outbox.flush()
        author = [t for chat, t in pushes(session, mark) if chat == WRITER]
        assert len(author) == 1 and f"审核通过，转送 {upper}" in author[0]
    top = client_factory(PROVINCE_ADMIN)
    opened = await top.press(await top.send("/review"), "我县开展理论宣讲进基层活动")
    mark = len(session.calls)
    assert "已采用" in (await top.press(opened, "采用")).text
    await outbox.flush()
    [(chat, text)] = [p for p in pushes(session, mark) if p[0] == WRITER]
    for line in ("投稿至 县委宣传部", "县委宣传部 审核通过，转送 市委宣传部", "市委宣传部 审核通过，转送 省委宣传部",
                 "省委宣传部 采用"):
        assert line in text
    timeline = await writer.press(await writer.send("/manuscript"), "#1")
    assert "已采用（省委宣传部）" in timeline.text and "省委宣传部 采用" in timeline.text
    assert "没有待审核的稿件" in (await top.send("/review")).text
    assert await store.manuscript_counts(county) == svc.ManuscriptCounts(1, 1, 0)
    assert await store.manuscript_counts(city) == svc.ManuscriptCounts(0, 1, 0)
    assert await store.manuscript_counts(province) == svc.ManuscriptCounts(0, 0, 1)
    assert len(rows(settings, "SELECT 1 FROM audit_log WHERE action LIKE 'manuscript.%'")) == 3  # SEC-3


async def test_work_3_reject_with_reason_and_uncertified_cannot_forward(client_factory, store, outbox, session):
    await setup(store)
    await make_correspondent(client_factory(LONE_ADMIN))
    writer = client_factory(WRITER)
    listing = await writer.send("/manuscript")
    started = await writer.press(listing, "新投稿")
    assert "第 1 步" in started.text  # a correspondent of one organisation only: no choice to make
    await writer.send("标题")
    step3 = await writer.send("正文")
    big = await writer.document(b"x" * (20 * 1024 * 1024 + 1), "video.mp4", file_id="big")
    assert "超过了 Telegram 允许机器人接收的 20 MB 上限" in big.text
    await writer.press(step3, "附件发完了")
    await writer.press(await writer.send("栏目"), "投稿")
    lone = client_factory(LONE_ADMIN)
    opened = await lone.press(await lone.send("/review"), "标题")
    refused = await lone.press(opened, "转送上级组织")
    assert refused.answers[-1].text == "本组织还没有认证，没有上级组织可以转送。"
    ask = await lone.press(opened, "退回")
    assert "的原因" in ask.text
    mark = len(session.calls)
    assert "已退回" in (await lone.send("请补充活动照片")).text
    await outbox.flush()
    [text] = [t for chat, t in pushes(session, mark) if chat == WRITER]
    assert "未认证组织 退回：请补充活动照片" in text
    again = await lone.press(opened, "采用")
    assert again.answers[-1].text == "这篇稿件已经处理过了。"


async def test_sec_4_forged_review_buttons(client_factory, store, outbox):
    await setup(store)
    await make_correspondent(client_factory(COUNTY_ADMIN))
    await walk_submit(client_factory(WRITER))
    # forged: the province's admin presses buttons of a manuscript that sits at the county
    for action in (ReviewAction.open, ReviewAction.forward, ReviewAction.accept, ReviewAction.reject):
        sent = await client_factory(PROVINCE_ADMIN).click(ReviewCD(action=action, ms_id=1).pack())  # forged:
        assert sent.answers[-1].text == "您没有执行此操作的权限。"


async def test_work_3_attachments_are_judged_by_their_content(client_factory, store, settings):
    """A 0-byte PDF and a Windows program named report.pdf are refused with a clear message; the flow stays
    at the attachments step and a real PDF is then accepted."""
    await setup(store)
    await make_correspondent(client_factory(LONE_ADMIN))
    writer = client_factory(WRITER)
    await writer.press(await writer.send("/manuscript"), "新投稿")
    await writer.send("标题")
    await writer.send("正文")
    empty = await writer.document(b"", "report.pdf", file_id="empty")
    assert "这个文件是空的（0 字节）" in empty.text
    exe = await writer.document(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00", "report.pdf",
                                file_id="exe")
    assert "无法识别这个文件的内容" in exe.text and "PDF" in exe.text
    ok = await writer.document(b"%PDF-1.4 small", "report.pdf", file_id="pdf")
    assert "已收到第 1 个附件" in ok.text
    await writer.press(ok, "附件发完了")
    await writer.press(await writer.send("栏目"), "投稿")
    assert rows(settings, "SELECT file_id FROM manuscript_files") == [("pdf",)]
