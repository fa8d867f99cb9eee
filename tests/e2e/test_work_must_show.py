"""Issue #13's must-show end to end over the sandbox (WORK-1, WORK-2, WORK-3, LEARN-7):

- an admin sends a task with a deadline and confirmation to a 30-member subtree; 10 confirm; the
  admin's view shows 10 confirmed / 20 pending with the 20 names; "remind the pending" reaches exactly
  those 20; a member who blocked the bot is shown unreachable; the automatic reminder goes out when the
  clock is moved to 2 h before the deadline;
- an activity's QR check-in pays the points once;
- a manuscript goes county -> city -> province with the author seeing each step.

The people and organisations are written into the bot's database before the sandbox starts (the
flows that make them have their own end-to-end tests); everything after that is done by pressing
buttons over the sandbox's control API.
"""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.store import Store
from tests.support.factories import make_member, make_org, make_user
from tests.support.sandbox_client import SandboxProcess, SandboxUser

WAIT = 40
TZ = ZoneInfo("Asia/Shanghai")
ADMIN, CITY_ADMIN, COUNTY_ADMIN = 710001, 710002, 710003
MEMBERS = [(720000 + n, f"学员{n:02d}") for n in range(30)]  # 20 in the root organisation, 10 below it
WRITER = MEMBERS[29][0]  # a member of the county organisation, made a correspondent in the WORK-3 test
ROOT, LOWER = "市委宣传部（演示）", "县委宣传部（演示）"
PROVINCE = "省委宣传部（演示）"


async def _seed(path) -> None:
    store = await Store.open(path)
    try:
        for uid, name in ((ADMIN, "市管理员"), (CITY_ADMIN, "省管理员"), (COUNTY_ADMIN, "县管理员")):
            await make_user(store, uid, name, verified=True)
        province = await make_org(store, PROVINCE, CITY_ADMIN, certified=True)
        root = await make_org(store, ROOT, ADMIN, certified=True, parent_id=province)
        lower = await make_org(store, LOWER, COUNTY_ADMIN, certified=True, parent_id=root)
        for n, (uid, name) in enumerate(MEMBERS):
            phone = await make_user(store, uid, name)
            await make_member(store, root if n < 20 else lower, name, phone, activated=True)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def proc(tmp_path_factory):
    path = tmp_path_factory.mktemp("work") / "work.sqlite3"
    asyncio.run(_seed(path))
    p = SandboxProcess(path)
    sb = p.sandbox
    for uid, name in [(ADMIN, "市管理员"), (CITY_ADMIN, "省管理员"), (COUNTY_ADMIN, "县管理员"), *MEMBERS]:
        sb.post("/sandbox/users", {"id": uid, "first_name": name, "language_code": "zh"})
    yield p
    p.stop()


def user(proc, uid: int) -> SandboxUser:
    return SandboxUser(proc.sandbox, uid)


def text(m: dict) -> str:
    return m.get("text") or m.get("caption") or ""


def bot_now(proc) -> datetime:
    return datetime.fromisoformat(proc.sandbox.get("/sandbox/clock")["now"]).astimezone(TZ)


def test_work_1_task_to_30_member_subtree_confirm_remind_unreachable_auto_reminder(proc):
    admin = user(proc, ADMIN)
    deadline = (bot_now(proc) + timedelta(days=1)).replace(second=0, microsecond=0)
    admin.send("/task")
    admin.expect("第 1 步", WAIT)
    admin.send("请于明天中午前完成第三章学习并确认。")
    admin.press(admin.expect("第 2 步", WAIT), "本组织及全部下级组织")
    admin.expect("第 3 步", WAIT)
    admin.send(deadline.strftime("%Y-%m-%d %H:%M"))
    admin.press(admin.expect("第 4 步", WAIT), "✅ 需要确认")
    preview = admin.expect("请确认要发布的任务", WAIT)
    assert "将发送给 30 人（范围内共 30 名成员" in text(preview)
    admin.press(preview, "发送")
    admin.expect("任务 #1 已发出，共 30 人", WAIT)

    people = {uid: user(proc, uid) for uid, _ in MEMBERS}
    notices = {uid: u.expect("请于明天中午前完成第三章学习", WAIT) for uid, u in people.items()}
    confirmed = [uid for uid, _ in MEMBERS[::3]]  # 10 of the 30, from both organisations
    assert len(confirmed) == 10
    for uid in confirmed:
        people[uid].press(notices[uid], "确认收到")
        people[uid].expect("已确认收到任务 #1", WAIT)
    pending = {uid: name for uid, name in MEMBERS if uid not in confirmed}

    admin.send("/tasks")
    view_msg = admin.expect("已发布的任务", WAIT)
    admin.press(view_msg, "#1")
    view_msg = admin.expect("已确认 10", WAIT)
    view = text(view_msg)
    assert "共 30 人 · 已送达 30 · 已确认 10 · 待确认 20 · 无法送达 0" in view
    shown = set(re.findall(r"• (学员\d\d)", view))
    assert shown == set(pending.values())

    admin.press(view_msg, "提醒未确认的人")
    admin.expect("已向 20 名未确认的成员发送提醒", WAIT)
    for uid in pending:
        people[uid].expect("任务提醒", WAIT)
    for uid in confirmed:  # nothing new for those who confirmed
        assert not [m for m in people[uid].messages(after=people[uid].seen) if m["from"] == "bot"]

    blocked = next(iter(pending))
    proc.sandbox.post(f"/sandbox/users/{blocked}/block")
    proc.sandbox.post("/sandbox/clock", {"set": (deadline - timedelta(hours=2, seconds=-1)).isoformat()})
    for uid in pending:
        if uid != blocked:
            people[uid].expect(lambda m: "任务提醒" in text(m), WAIT)
    admin.send("/tasks")
    admin.press(admin.expect("已发布的任务", WAIT), "#1")
    view = text(admin.expect("无法送达 1", WAIT))
    assert f"• {pending[blocked]}（无法送达：已屏蔽机器人）" in view
    assert "待确认 20" in view


def test_work_2_activity_qr_check_in_pays_points_once(proc):
    admin = user(proc, ADMIN)
    now = bot_now(proc)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    admin.send("/activity")
    admin.press(admin.expect("还没有集体活动", WAIT), "新建活动")
    admin.press(admin.expect("活动类型", WAIT), "党日活动")
    admin.expect("第 2 步", WAIT)
    admin.send("主题党日：重温入党誓词")
    admin.expect("第 3 步", WAIT)
    admin.send(f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M}")
    admin.expect("第 4 步", WAIT)
    admin.send("5")
    admin.press(admin.expect("第 5 步", WAIT), "本组织及全部下级组织")
    admin.press(admin.expect("请确认活动", WAIT), "创建")
    qr = admin.expect(lambda m: "photo" in m and "签到二维码" in text(m), WAIT)
    payload = re.search(r"start=(a_[A-Za-z0-9_-]+)", text(qr)).group(1)

    member_id, _name = MEMBERS[25]  # a member of the lower organisation, in the subtree
    m = user(proc, member_id)
    m.send(f"/start {payload}")  # what scanning the code does
    m.expect("签到成功，获得 5 积分", WAIT)
    m.send(f"/start {payload}")
    m.expect("已经签到过", WAIT)
    m.send("/report")
    report = text(m.expect("按来源统计", WAIT))
    assert "集体活动：5 分" in report
    admin.send("/activity")
    listing = admin.expect("🎯 集体活动", WAIT)
    assert "已签到 1 人" in text(listing)


def test_work_3_manuscript_county_city_province_author_sees_each_step(proc):
    county = user(proc, COUNTY_ADMIN)
    county.send("/members")
    county.press(county.expect("学员29", WAIT), "学员29")
    county.press(county.expect(lambda m: "通讯员" in str(m.get("reply_markup")), WAIT), "通讯员")
    county.press(county.expect("目前不是通讯员", WAIT), "设为通讯员")
    county.expect("是通讯员", WAIT)

    writer = user(proc, WRITER)
    writer.send("/manuscript")
    writer.press(writer.expect("还没有投过稿", WAIT), "新投稿")
    writer.expect("第 1 步", WAIT)
    writer.send("县里理论宣讲走进田间地头")
    writer.expect("第 2 步", WAIT)
    writer.send("近日，县委宣传部组织宣讲团……")
    writer.upload("photo", "scene.png", _png())
    writer.press(writer.expect("已收到第 1 个附件", WAIT), "附件发完了")
    writer.expect("第 4 步", WAIT)
    writer.send("基层动态")
    writer.press(writer.expect("请确认投稿", WAIT), "投稿")
    writer.expect("已投给 县委宣传部", WAIT)

    for reviewer_id, upper in ((COUNTY_ADMIN, ROOT), (ADMIN, PROVINCE)):
        r = user(proc, reviewer_id)
        r.expect("收到新稿件", WAIT)
        r.send("/review")
        r.press(r.expect("待审核的稿件", WAIT), "县里理论宣讲走进田间地头")
        r.press(r.expect("近日，县委宣传部组织宣讲团", WAIT), "转送上级组织")
        r.expect(f"已转送 {upper}", WAIT)
        writer.expect(f"审核通过，转送 {upper}", WAIT)
    top = user(proc, CITY_ADMIN)
    top.expect("收到新稿件", WAIT)
    top.send("/review")
    top.press(top.expect("待审核的稿件", WAIT), "县里理论宣讲走进田间地头")
    top.press(top.expect("近日，县委宣传部组织宣讲团", WAIT), "采用")
    final = text(writer.expect(f"{PROVINCE} 采用", WAIT)).split("处理经过", 1)[1]  # the timeline, in order
    assert final.index("投稿至 县委宣传部") < final.index(f"转送 {ROOT}") < final.index(f"转送 {PROVINCE}") \
        < final.index(f"{PROVINCE} 采用")


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
