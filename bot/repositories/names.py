"""The order people and places are listed in: by pinyin, not by code point (于洋, 何伟, 冯雪 → 冯雪,
何伟, 于洋).

Each table with a name people look for in a list (members, users, orgs, branches) has a `sort_key`
column, computed here whenever a name is written and backfilled by migration 14, so that paged lists
sort in SQL (`ORDER BY sort_key, id` with LIMIT/OFFSET stays right across pages; sorting a fetched page
in Python would not). A plain text column keeps the SQL portable (no collation or SQLite function).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import aiosqlite
from pypinyin import Style, lazy_pinyin

# table -> the column whose text the key is made of
SORTED_NAMES = {"members": "name", "users": "name", "orgs": "name", "branches": "name"}


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_NUMERAL = "零〇一二两三四五六七八九十百"
# A numeral that counts (第二支部, 机关三支部, 十二组), not one that is part of a name (张一鸣): after 第, or
# before a unit of an organisation.
_ORDINAL = re.compile(rf"(?<=第)[{_NUMERAL}]+|[{_NUMERAL}]+(?=(?:党支部|支部|党总支|总支|党小组|小组|组|班|队|车间))")
_NUMBER = re.compile(r"\d+")


def _numeral_value(text: str) -> int:
    """一 1, 十 10, 十二 12, 二十 20, 一百零五 105, 一二 12 (digit by digit)."""
    if not any(ch in "十百" for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in "十百":
            total += (digit or 1) * (10 if ch == "十" else 100)
            digit = 0
        else:
            digit = _DIGITS[ch]
    return total + digit


@lru_cache(maxsize=4096)
def sort_key(name: str | None) -> str:
    """Pinyin with tone numbers (`he2 wei3`), then the text itself so that equal readings keep one order.
    Numbers compare as numbers (第二 before 第十, 成员2 before 成员10); Latin letters sort among the
    pinyin as they are."""
    text = " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())
    counted = _ORDINAL.sub(lambda m: str(_numeral_value(m.group())), text)
    padded = _NUMBER.sub(lambda m: m.group().zfill(10), counted)
    syllables = lazy_pinyin(padded, style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(syllables) + "\x00" + text


async def backfill_sort_keys(db: aiosqlite.Connection) -> None:
    """Fills the keys of rows written without one (rows from before migration 14; test data written
    straight into the tables)."""
    for table, column in SORTED_NAMES.items():
        async with db.execute(f"SELECT id, {column} FROM {table} WHERE sort_key = ''") as cur:
            rows = await cur.fetchall()
        await db.executemany(f"UPDATE {table} SET sort_key = ? WHERE id = ?",
                             [(sort_key(name), row_id) for row_id, name in rows])
