"""What a person typed is shown as typed (HTML messages, parse_mode HTML): a task's text and a
manuscript's body with `<`, `&` and a typed `<a href=…>` reach every reader as that text, while the
formatting they used in Telegram (bold, a link as a message entity) is kept. The session is as strict
as Telegram (tests/fuzz/harness.py): HTML it cannot parse is refused and counted."""
from __future__ import annotations

import pytest
from aiogram.methods import SendMessage
from aiogram.types import MessageEntity

from bot.sandbox.html_entities import html_to_text
from tests.fuzz.harness import StrictSession
from tests.handlers import test_manuscripts as ms
from tests.handlers import test_tasks as tasks

TYPED = '重要：1 < 2 & 3 > 2，<a href="https://evil.example">点此</a> 见官网'
BOLD = MessageEntity(type="bold", offset=0, length=2)
LINK = MessageEntity(type="text_link", offset=TYPED.index("官网"), length=2, url="https://good.example/")


@pytest.fixture
def session() -> StrictSession:
    return StrictSession()


def shown(text: str) -> tuple[str, list[dict]]:
    return html_to_text(text)


def covered(text: str, kind: str, entities: list[dict]) -> list[str]:
    """The texts an entity of `kind` covers (offsets count UTF-16 units, as Telegram's do)."""
    units = text.encode("utf-16-le")
    return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le") for e in entities
            if e["type"] == kind]


def links(entities: list[dict]) -> list[str]:
    return [e.get("url", "") for e in entities if e["type"] == "text_link"]


async def test_work_1_task_text_is_shown_as_typed_with_its_formatting(client_factory, store, outbox, session):
    await tasks.setup(store)
    c = client_factory(tasks.ADMIN)
    await c.send("/task")
    sent = await c.press(await c.send(TYPED, entities=[BOLD, LINK]), "仅本组织")
    sent = await c.press(sent, "不设截止时间")
    preview = await c.press(sent, "✅ 需要确认")
    text, entities = shown(preview.text)
    assert TYPED in text
    assert links(entities) == ["https://good.example/"] and "重要" in covered(text, "bold", entities)
    await c.press(preview, "发送")
    before = len(session.calls)
    await outbox.flush()
    notices = [m for m in session.calls[before:] if isinstance(m, SendMessage)]
    assert len(notices) == len(tasks.MEMBERS)
    text, entities = shown(notices[0].text)
    assert TYPED in text and links(entities) == ["https://good.example/"]  # no hidden link to evil.example
    listing = await c.send("/tasks")
    assert "重要：1 < 2 &" in shown(listing.text)[0]
    assert session.violations == []


async def test_work_3_manuscript_body_with_a_less_than_sign_opens_for_the_reviewer(client_factory, store, outbox,
                                                                                   session):
    await ms.setup(store)
    await ms.make_correspondent(client_factory(ms.LONE_ADMIN))
    writer = client_factory(ms.WRITER)
    await writer.press(await writer.send("/manuscript"), "新投稿")
    await writer.send("标题 <b>粗</b>")
    step3 = await writer.send(TYPED, entities=[BOLD, LINK])
    await writer.press(step3, "附件发完了")
    preview = await writer.send("栏目")
    assert TYPED in shown(preview.text)[0]
    await writer.press(preview, "投稿")
    lone = client_factory(ms.LONE_ADMIN)
    opened = await lone.press(await lone.send("/review"), "标题 <b>粗</b>")
    text, entities = shown(opened.text)
    assert "标题 <b>粗</b>" in text and TYPED in text and links(entities) == ["https://good.example/"]
    assert "重要" in covered(text, "bold", entities)
    assert session.violations == []


async def test_learn_6_question_stems_in_the_exam_picker_are_shown_as_typed(client_factory, store, session):
    from tests.handlers.test_exams import ADMIN, exam_world
    from tests.support.quiz_factories import make_question

    w = await exam_world(store)
    await make_question(store, "single", "若 a < b 且 b <c，则 a & c 的关系是", org_id=w.org_id)
    admin = client_factory(ADMIN, "李管理")
    await admin.press(await admin.press(await admin.send("/exams"), "管理考试"), "新建考试")
    picker = await admin.press(await admin.send("考试"), "从题库挑选")
    assert "若 a < b 且 b <c，则 a & c 的关系是" in shown(picker.text)[0]
    assert session.violations == []
