"""Free text as people type it: one cleaner for every place that takes some. `clean_text` for one line
(registration and verification names, members added, edited or imported, organisation, branch and
region names, the member search, titles of exams, activities and manuscripts, columns, notes and
reasons), `clean_lines` for text of several lines (a task notice, a manuscript's body, a rejection's
reason), `fitted` for the common "not empty, not too long" check; and the Chinese-order name
suggestion. (The pinyin order lists sort by is bot/repositories/names.py: it is computed where names
are written.)

Control and format characters (Unicode Cc and Cf: NUL, ESC, the direction overrides such as U+202E,
zero-width spaces and joiners, the BOM) are dropped: they show nothing, or turn the rest of a line
around on the phone. Characters that show as blank (whitespace, the Hangul fillers) become one space.
So `张\u200b三` is stored and searched as `张三`.
"""
from __future__ import annotations

import re
import unicodedata

from bot.errors import DomainError
from bot.i18n import plain

# Letters that render as nothing; people use them to send "blank" text Telegram accepts (they are Lo, not Cf).
_BLANK_LETTERS = "\u115f\u1160\u3164\uffa0"


def _unseen(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace()


def _visible(text: str) -> str:
    return "".join(" " if ch in _BLANK_LETTERS else ch for ch in text if not _unseen(ch))


def clean_text(raw: str | None) -> str:
    """One line: NFKC; control and format characters dropped; runs of blanks one space; trimmed."""
    return " ".join(_visible(unicodedata.normalize("NFKC", raw or "")).split())


def clean_lines(raw: str | None) -> str:
    """Several lines: control and format characters dropped, blank letters spaces, spaces at line ends
    and empty lines at either end dropped, at most one empty line in a row. No NFKC: the text is kept as
    typed (full-width forms too), and it may be HTML made from the message's entities, where NFKC would
    turn a typed full-width `＜` into a real `<`."""
    lines = [line.rstrip() for line in _visible((raw or "").replace("\r\n", "\n")).split("\n")]
    kept = [line for n, line in enumerate(lines) if line or (n and lines[n - 1])]
    return "\n".join(kept).strip()


def fitted(text: str, limit: int, empty: str, too_long: str, *, length: int | None = None) -> str:
    """`text` (cleaned already) when it is not empty and at most `limit` characters long (`length` when
    what the person sees is shorter than `text`, e.g. HTML); else the DomainError `empty` or `too_long`."""
    shown = len(text) if length is None else length
    if not text or not shown:
        raise DomainError(empty)
    if shown > limit:
        raise DomainError(too_long, limit=limit)
    return text


def typed_html(raw_html: str | None) -> tuple[str, int]:
    """Several lines of HTML made by aiogram from a message's text and entities (`Message.html_text`),
    cleaned as `clean_lines`, and the length of the text it shows."""
    cleaned = clean_lines(raw_html)
    return cleaned, len(plain(cleaned).strip())


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_HAN_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff·]+$")
# The commonest family names (about nine in ten people in China carry one of the single ones).
_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜"
    "印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由")
_SURNAMES_2 = {"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "夏侯", "长孙",
               "宇文", "司徒", "鲜于", "端木", "独孤", "南宫", "西门", "轩辕", "呼延", "万俟", "澹台", "申屠"}


def _is_surname(text: str) -> bool:
    return text in _SURNAMES_2 or text in _SURNAMES_1


def suggested_name(first_name: str | None, last_name: str | None) -> str:
    """The name to offer at registration from Telegram's first and last name. A Chinese name is family
    name + given name with no space (`赵磊`, `陈小明`), whichever field the person put the family name in:
    the last name when it is a family name (Telegram's meaning), else the first name when it is one.
    Other names stay "first last". May be empty; the caller still checks the length."""
    first, last = clean_text(first_name), clean_text(last_name)
    if not (_HAN.search(first) or _HAN.search(last)):
        return " ".join(p for p in (first, last) if p)
    first, last = _join_han(first), _join_han(last)
    if not (first and last and _HAN_ONLY.match(first) and _HAN_ONLY.match(last)):
        return " ".join(p for p in (first, last) if p)
    if not _is_surname(last) and _is_surname(first):
        return first + last
    return last + first


def _join_han(text: str) -> str:
    """`张 伟` → `张伟`: no space between two Chinese characters."""
    return re.sub(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) (?=[\u3400-\u9fff\uf900-\ufaff])", "", text)



def whole_number(raw: str | None, max_digits: int = 9) -> int | None:
    """A typed whole number ("12", "１２" as NFKC makes it "12"), or None: `str.isdigit` alone also
    accepts "¹" or "①", which `int()` refuses, and a number past `max_digits` would overflow SQLite."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        return None
    return int(text)
