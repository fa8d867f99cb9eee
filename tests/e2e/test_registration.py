"""REG and RNV end to end over the sandbox, every bad input of the issue included."""
from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys

import pytest

from tests.support.sandbox_client import Sandbox, SandboxProcess

_phones = itertools.count(13900000001)


def new_phone() -> str:
    return f"+86{next(_phones)}"


def to_phone_step(sb: Sandbox, name: str = "张伟", phone: str | None = None):
    u = sb.user(name, phone=phone or new_phone())
    u.send("/start")
    agreement = u.expect("服务协议与隐私政策")
    u.press(agreement, "同意并继续")
    u.expect("第 1 步")
    return u


def test_reg_full_flow_and_main_menu(sb):
    u = to_phone_step(sb)
    kb = u.reply_keyboard()
    assert kb["keyboard"][0][0] == {"text": "📱 分享我的手机号", "request_contact": True}
    u.press_reply("📱 分享我的手机号")
    ask_name = u.expect("第 2 步")
    assert ask_name["text"].startswith("✍️")
    assert u.reply_keyboard()["keyboard"][0][0]["text"] == "张伟"  # suggestion from the Telegram name
    u.press_reply("张伟")
    skip = u.expect("第 3 步")
    u.press(skip, "跳过")
    u.expect("注册成功")
    u.expect("138" if False else "📱 手机号")  # the main menu follows
    u.send("/start")
    menu = u.expect("实名认证：未认证")
    labels = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert "🏢 我的组织" in labels and "🪪 实名认证" in labels


def test_reg_decline(sb):
    u = sb.user("路人", phone=new_phone())
    u.send("/start")
    u.press(u.expect("服务协议与隐私政策"), "不同意")
    assert "没有保存" in u.expect("没有保存")["text"]


def test_reg_bad_inputs_keep_the_step(sb):
    u = to_phone_step(sb)
    u.contact(phone="+8613700000000", user_id=424242, first_name="别人")
    u.expect("只能绑定您本人")
    u.contact(phone="+8613700000000")  # a typed-in contact card without a user id
    u.expect("只能绑定您本人")
    u.send("13700000000")
    u.expect("不要手动输入")
    u.sticker()
    u.expect("不接受贴纸")
    u.upload("photo", "x.png", _png())
    u.expect("不接受贴纸")
    u.upload("document", "x.txt", b"hello")
    u.expect("不接受贴纸")
    u.contact()
    u.expect("第 2 步")
    u.send("ㅤ \u200b ㅤ")  # Hangul fillers and a zero-width space: a "blank" Telegram lets through
    u.expect("不能为空")
    u.send("一" * 21)
    u.expect("您输入了 21 个字")
    u.sticker()
    u.expect("请用文字填写您的姓名")
    u.send("王芳")
    u.expect("第 3 步")
    u.upload("document", "x.txt", b"hello")
    u.expect("请用文字填写单位名称")
    u.send("某某县委宣传部")
    u.expect("注册成功")


@pytest.mark.parametrize("step", ["agreement", "phone", "name", "org"])
def test_reg_cancel_at_every_step(sb, step):
    u = sb.user("取消", phone=new_phone())
    u.send("/start")
    agreement = u.expect("服务协议与隐私政策")
    if step != "agreement":
        u.press(agreement, "同意并继续")
        u.expect("第 1 步")
    if step in ("name", "org"):
        u.contact()
        u.expect("第 2 步")
    if step == "org":
        u.send("张三")
        u.expect("第 3 步")
    u.send("/cancel")
    u.expect("已取消当前操作")
    assert u.reply_keyboard() is None
    u.send("你好")
    u.expect("请先发送 /start 完成注册")


def test_reg_7_phone_of_another_account(sb):
    phone = new_phone()
    first = to_phone_step(sb, phone=phone)
    first.contact()
    first.expect("第 2 步")
    first.send("张一")
    first.press(first.expect("第 3 步"), "跳过")
    first.expect("注册成功")
    second = to_phone_step(sb, name="张二", phone=phone)
    second.contact()
    second.expect("已经绑定了另一个账号")


def _register(sb: Sandbox, name: str):
    u = to_phone_step(sb, name=name)
    u.contact()
    u.expect("第 2 步")
    u.send(name)
    u.press(u.expect("第 3 步"), "跳过")
    u.expect("注册成功")
    return u


def test_rnv_over_sandbox(sb):
    u = _register(sb, "赵磊")
    u.send("/verify")
    u.expect("请输入您的真实姓名")
    u.send("赵磊")
    u.expect("18 位居民身份证号码")
    for number, reason in [("110105194912310021", "校验位不正确"),
                           ("110105199902300010", "出生日期"),
                           ("1101051949", "您输入了 10 位"),
                           ("11010519491231A02X", "只有最后一位可以是 X")]:
        mid = u.send(number)
        u.expect(reason)
        assert mid not in [m["message_id"] for m in u.messages()], "the ID message is deleted"
    u.sticker()
    u.expect("请用文字输入")
    u.send("11010519491231002X")
    u.expect("实名认证成功：赵磊，身份证号 110***********002X")
    other = _register(sb, "钱多")
    other.send("/verify")
    other.expect("真实姓名")
    other.send("钱多")
    other.expect("18 位")
    other.send("11010519491231002X")
    other.expect("已经认证过另一个账号")
    other.send("/cancel")
    other.expect("已取消")


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    return buf.getvalue()


def test_registration_survives_a_restart_of_the_bot(tmp_path):
    """The sandbox alone in one process, the bot in another; the bot is killed mid-registration
    and a new bot process on the same database lets the person finish."""
    server = SandboxProcess(tmp_path / "server.sqlite3", args=["--no-bot"])
    env = {**os.environ, "BOT_TOKEN": "1000000001:SANDBOX-token-for-local-use-only",
           "TELEGRAM_API_URL": server.sandbox.base, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
           "SECRET_KEY": "restart-secret-key-0123456789"}

    def start_bot() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=(tmp_path / "bot.log").open("ab"))

    bot = start_bot()
    try:
        u = server.sandbox.user("孙悦", phone="+8613912345678")
        u.send("/start")
        u.press(u.expect("服务协议与隐私政策", timeout=60), "同意并继续")
        u.expect("第 1 步")
        u.contact()
        u.expect("第 2 步")
        bot.terminate()
        bot.wait(timeout=10)
        bot = start_bot()
        u.send("孙悦")
        u.press(u.expect("第 3 步", timeout=60), "跳过")
        u.expect("注册成功")
        db = sqlite3.connect(tmp_path / "bot.sqlite3")
        assert db.execute("SELECT phone, name FROM users").fetchall() == [("+8613912345678", "孙悦")]
    finally:
        bot.terminate()
        bot.wait(timeout=10)
        server.stop()
