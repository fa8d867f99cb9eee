"""Issue 15: names as people type them — control and direction characters dropped, the registration
suggestion in Chinese order, lists in pinyin order (the sort key and its backfill)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite
import pytest

from bot.db.migrations import head
from bot.errors import DomainError
from bot.migrations import MIGRATIONS, split_sql
from bot.repositories.names import sort_key
from bot.services import idcard, members, orgs, registration
from bot.services.text import clean_lines, clean_text, suggested_name
from bot.services.users import visitor
from bot.store import Store

HOSTILE = "张\u202e伟\x00\x1b\u200b\u200d\ufeff\u2066"


def test_issue15_control_and_direction_characters_are_dropped():
    assert clean_text(HOSTILE) == "张伟"
    assert clean_text("  王\t\n  强 ") == "王 强"  # blanks still one space, trimmed
    assert clean_text("\u3164李\u115f娜") == "李 娜"  # Hangul fillers show as blank
    assert clean_text("Ｅｖｅ") == "Eve"  # NFKC, as before


def test_issue15_every_name_input_uses_the_normaliser():
    assert registration.clean_name(HOSTILE) == "张伟"
    assert registration.clean_org_name("研发\u202e部") == "研发部"
    assert members.clean_name("李\u200b娜\x00") == "李娜"
    assert orgs.clean_branch_name("第一\u202e支部") == "第一支部"
    assert orgs.clean_region("河南省\u202e郑州市") == "河南省郑州市"
    assert orgs.check_org_name("某某\x1b学习组织", "party").name == "某某学习组织"
    assert idcard.validate_real_name("张\u200b三") == "张三"
    with pytest.raises(DomainError):
        registration.clean_name("\u202e\u200b\x00")  # nothing visible left: empty


def test_issue15_zero_width_characters_are_the_same_in_search():
    assert members.search_terms("张\u200b三") == ("张三", None)


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("赵", "磊", "赵磊"),  # the family name typed into the first-name field
    ("小明", "陈", "陈小明"),  # Telegram's own meaning: last name is the family name
    ("伟", "张", "张伟"),
    ("娜娜", "欧阳", "欧阳娜娜"),  # a two-character family name
    ("张 伟", None, "张伟"),  # one field, no space between Chinese characters
    ("John", "Smith", "John Smith"),  # other names as they were
    ("Anna", None, "Anna"),
])
def test_issue15_name_suggestion_in_chinese_order(first, last, expected):
    assert suggested_name(first, last) == expected
    user = visitor(1, first, last, None, "zh")
    assert registration.suggested_name(user) == expected


def test_issue15_names_sort_by_pinyin_numbers_as_numbers():
    names = ["于洋", "何伟", "冯雪", "张三", "陈小明", "Alice", "阿明"]
    assert sorted(names, key=sort_key) == ["阿明", "Alice", "陈小明", "冯雪", "何伟", "于洋", "张三"]
    assert sorted(["于洋", "何伟", "冯雪"]) == ["于洋", "何伟", "冯雪"]  # code point order: what the issue saw
    branches = ["第十支部", "第二支部", "第一支部", "机关十二支部", "机关三支部"]
    assert sorted(branches, key=sort_key) == ["第一支部", "第二支部", "第十支部", "机关三支部", "机关十二支部"]
    assert sorted(["成员10", "成员2"], key=sort_key) == ["成员2", "成员10"]
    assert sorted(["张一鸣", "张伟", "张三"], key=sort_key) == ["张三", "张伟", "张一鸣"]  # 一 in a name is a name


@asynccontextmanager
async def _database_at(path, version: int) -> AsyncIterator[aiosqlite.Connection]:
    """A database file as a release at schema `version` left it."""
    async with aiosqlite.connect(path, isolation_level=None) as db:
        for number, script in enumerate(MIGRATIONS[:version], start=1):
            for statement in split_sql(script):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number}")
        yield db


async def test_issue15_migration_14_backfills_sort_keys(tmp_path):
    """A database from before the sort key: after the upgrade its rows have their keys, so the lists that
    order by it are in pinyin order at once."""
    path = tmp_path / "old.sqlite3"
    async with _database_at(path, 13) as db:
        await db.execute("INSERT INTO users (id, name, created_at, updated_at) VALUES (1, '于洋', 'n', 'n')")
        await db.execute("INSERT INTO orgs (id, name, created_by, created_at) VALUES (1, '某组织', 1, 'n')")
        await db.execute("INSERT INTO branches (id, org_id, name, created_at) VALUES (1, 1, '第二支部', 'n')")
        for i, name in enumerate(["于洋", "何伟", "冯雪"]):
            await db.execute("INSERT INTO members (org_id, name, phone, created_at, updated_at) "
                             "VALUES (1, ?, ?, 'n', 'n')", (name, f"+8613800000{i:03d}"))
    store = await Store.open(path)
    try:
        assert await store.schema_version() == head()
        page = await store.member_page(1, 10, 0)
        assert [m.name for m in page] == ["冯雪", "何伟", "于洋"]
        async with store.raw_tx() as db, db.execute("SELECT sort_key FROM users WHERE id = 1") as cur:
            assert (await cur.fetchone())[0] == sort_key("于洋")
    finally:
        await store.close()


def test_every_free_text_field_uses_the_one_cleaner():
    """Titles, texts, columns and reasons lose invisible and direction characters as names do."""
    from bot.services import activities, exams, manuscripts, tasks

    assert activities.clean_title("党课\u202e学习\u200b") == "党课学习"
    assert exams.clean_title("\u2066第一次\u200b考试 ") == "第一次考试"
    assert manuscripts.clean_title("我县\u202e宣讲") == "我县宣讲"
    assert manuscripts.clean_column("基层\ufeff动态") == "基层动态"
    assert tasks.clean_body("请\u202e学习\u200b党章\n\n\n\n第二段 ") == "请学习党章\n\n第二段"
    assert manuscripts.clean_body("正文\u200b &lt;b&gt;") == "正文 &lt;b&gt;"
    assert clean_lines("\n  \u3164\n第一行\u200b  \r\n\n\n第二行\n\n") == "第一行\n\n第二行"
    assert clean_lines("＜b＞") == "＜b＞"  # no NFKC in text of several lines: nothing becomes a tag


@pytest.mark.parametrize("clean, message", [
    ("bot.services.activities:clean_title", "activity.empty_title"),
    ("bot.services.exams:clean_title", "exams.empty_title"),
    ("bot.services.manuscripts:clean_title", "manuscript.empty_title"),
    ("bot.services.manuscripts:clean_body", "manuscript.empty_body"),
    ("bot.services.tasks:clean_body", "task.empty"),
])
def test_a_title_or_text_empty_after_cleaning_is_refused(clean, message):
    import importlib

    module, name = clean.split(":")
    with pytest.raises(DomainError) as refused:
        getattr(importlib.import_module(module), name)("\u200b\u200b\u200b")
    assert refused.value.key == message
    with pytest.raises(DomainError):
        getattr(importlib.import_module(module), name)("<b>\u200b</b>" if "body" in name else "\u3164 \u202e")


async def test_migration_25_escapes_task_and_manuscript_texts_stored_as_typed(tmp_path):
    """Task texts and manuscript bodies stored before they were kept as HTML show as typed afterwards."""
    path = tmp_path / "old.sqlite3"
    async with _database_at(path, 24) as db:
        await db.execute("INSERT INTO users (id, name, created_at, updated_at) VALUES (1, '于洋', 'n', 'n')")
        await db.execute("INSERT INTO orgs (id, name, created_by, created_at) VALUES (1, '某组织', 1, 'n')")
        await db.execute("INSERT INTO tasks (org_id, created_by, body, target, created_at) "
                         "VALUES (1, 1, '1 < 2 & <a href=\"x\">点此</a>', 'org', 'n')")
        await db.execute("INSERT INTO manuscripts (author_id, origin_id, org_id, title, body, column_name, created_at, "
                         "updated_at)"
                         " VALUES (1, 1, 1, '标题', 'a<b', '栏目', 'n', 'n')")
    store = await Store.open(path)
    try:
        async with store.raw_tx() as db, db.execute("SELECT body FROM tasks UNION ALL SELECT body FROM manuscripts") \
                as cur:
            assert [r[0] for r in await cur.fetchall()] == ['1 &lt; 2 &amp; &lt;a href="x"&gt;点此&lt;/a&gt;', "a&lt;b"]
    finally:
        await store.close()
