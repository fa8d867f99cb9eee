"""RNV-1…3 through the dispatcher."""
from __future__ import annotations

import logging

from aiogram.methods import DeleteMessage

from bot.services.idcard import check_digit

GOOD = "11010519491231002X"


def make(first17: str) -> str:
    return first17 + check_digit(first17)


async def test_rnv_1_visitor_cannot_verify(client_factory):
    sent = await client_factory().send("/verify")
    assert sent.texts == ["请先发送 /start 完成注册。"]


async def test_rnv_2_3_verify_and_store_only_hash_and_mask(client_factory, registered, store, settings, caplog):
    c = client_factory()
    await registered(c.user_id)
    with caplog.at_level(logging.DEBUG):
        assert "真实姓名" in (await c.send("/verify")).text
        assert "18 位" in (await c.send("张伟")).text
        sent = await c.send(GOOD)
    assert "实名认证成功：张伟，身份证号 110***********002X" in sent.text
    assert sent.of(DeleteMessage), "the message with the ID number is deleted from the chat"
    user = await store.get_user(c.user_id)
    assert (user.real_name, user.id_masked, user.verified) == ("张伟", "110***********002X", True)
    await store.close()  # flush the WAL so the whole database is in the files we read
    for path in settings.database_path.parent.glob(settings.database_path.name + "*"):
        raw = path.read_bytes()
        assert GOOD.encode() not in raw and GOOD[:17].encode() not in raw, path
    assert GOOD[:17] not in caplog.text


async def test_rnv_2_bad_numbers_keep_the_flow_at_the_id_step(client_factory, registered, store):
    c = client_factory()
    await registered(c.user_id)
    await c.send("/verify")
    await c.send("张伟")
    cases = [
        ("110105194912310021", "校验位不正确"),
        (make("11010519990230001"), "出生日期不是一个真实的日期"),
        ("1101051949123100", "应为 18 位，您输入了 16 位"),
        ("11010519491231A02X", "只有最后一位可以是 X"),
    ]
    for number, reason in cases:
        sent = await c.send(number)
        assert reason in sent.text and "请重新输入身份证号" in sent.text
    assert "请用文字输入" in (await c.sticker()).text
    assert not (await store.get_user(c.user_id)).verified
    assert "实名认证成功" in (await c.send(GOOD)).text


async def test_rnv_3_one_id_number_one_account(client_factory, registered, store):
    a, b = client_factory(100001), client_factory(100002)
    await registered(a.user_id)
    await registered(b.user_id)
    for c in (a, b):
        await c.send("/verify")
        await c.send("张伟")
    assert "实名认证成功" in (await a.send(GOOD)).text
    sent = await b.send(GOOD)
    assert "已经认证过另一个账号" in sent.text
    assert not (await store.get_user(b.user_id)).verified


async def test_rnv_bad_real_name_and_cancel(client_factory, registered, store):
    c = client_factory()
    await registered(c.user_id)
    await c.send("/verify")
    assert "请输入真实姓名" in (await c.send("张3")).text
    await c.send("张伟")
    assert (await c.send("/cancel")).texts == ["已取消当前操作。"]
    assert "没有理解" in (await c.send(GOOD)).text  # no longer in the flow: nothing taken
    assert not (await store.get_user(c.user_id)).verified


async def test_rnv_already_verified(client_factory, registered):
    c = client_factory()
    await registered(c.user_id)
    await c.send("/verify")
    await c.send("张伟")
    await c.send(GOOD)
    assert "您已完成实名认证" in (await c.send("/verify")).text
