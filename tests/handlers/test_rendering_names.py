"""Issue 15, names through the dispatcher: control and direction characters dropped on input, zero-width
characters the same in search, the registration suggestion in Chinese order, lists in pinyin order
(paged in SQL, so page 2 goes on where page 1 stopped)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from aiogram.methods import SendMessage
from aiogram.types import ReplyKeyboardMarkup, User

from tests.support.factories import make_member, make_org, make_user
from tests.support.recording import ChatClient

ADMIN = 800001


@dataclass
class NamedClient(ChatClient):
    """A person whose Telegram profile has a last name too."""
    last_name: str | None = None

    @property
    def tg_user(self) -> User:
        return User(id=self.user_id, is_bot=False, first_name=self.first_name, last_name=self.last_name,
                    language_code=self.language_code)


def suggestion(sent) -> str | None:
    for m in sent.of(SendMessage):
        if isinstance(m.reply_markup, ReplyKeyboardMarkup):
            return m.reply_markup.keyboard[0][0].text
    return None


def listed(text: str) -> list[str]:
    return re.findall(r"^\d+\. (\S+)  ", text, re.MULTILINE)


async def to_name_step(client) -> object:
    await client.press(await client.start(), "✅ 同意并继续")
    return await client.contact(f"86138{client.user_id % 100000000:08d}")


async def test_issue15_registration_suggests_chinese_names_in_chinese_order(dp, bot, session):
    for uid, first, last, expected in ((810001, "小明", "陈", "陈小明"), (810002, "赵", "磊", "赵磊"),
                                       (810003, "John", "Smith", "John Smith")):
        client = NamedClient(dp=dp, bot=bot, session=session, user_id=uid, first_name=first, last_name=last)
        assert suggestion(await to_name_step(client)) == expected, (first, last)


async def test_issue15_direction_and_control_characters_are_dropped_from_a_typed_name(client_factory, store):
    client = client_factory(810010)
    await to_name_step(client)
    await client.send("\u202e张\u200b伟\x1b\x00")
    await client.press_latest("跳过 ⏭")
    assert (await store.get_user(810010)).name == "张伟"


async def test_issue15_zero_width_characters_are_the_same_in_search(client_factory, store):
    await make_user(store, ADMIN, "王管理", verified=True)
    org = await make_org(store, "某某县委宣传部", ADMIN)
    await make_member(store, org, "张三", "+8613900000001")
    await make_member(store, org, "李四", "+8613900000002")
    admin = client_factory(ADMIN)
    await admin.press(await admin.send("/members"), "🔍 搜索")
    found = await admin.send("张\u200b三")
    assert "符合条件：1 人" in found.text and listed(found.text) == ["张三"]


async def test_issue15_members_listed_in_pinyin_order_across_pages(client_factory, store):
    await make_user(store, ADMIN, "王管理", verified=True)
    org = await make_org(store, "某某县委宣传部", ADMIN)
    names = ["于洋", "何伟", "冯雪", "张三", "陈小明", "安然", "白露", "邓超", "高峰", "金鑫", "刘洋", "马丽"]
    for i, name in enumerate(names):
        await make_member(store, org, name, f"+86139{i:08d}")
    page1 = await client_factory(ADMIN).send("/members")
    assert listed(page1.text) == ["安然", "白露", "陈小明", "邓超", "冯雪", "高峰", "何伟", "金鑫", "刘洋", "马丽"]
    page2 = await client_factory(ADMIN).press(page1, "下一页")
    assert listed(page2.text) == ["于洋", "张三"]
