"""What people type, for hypothesis: unicode of every category (lone surrogates aside: Telegram sends
UTF-8), RTL and zero-width marks, control characters, HTML special characters, digits of other
scripts, and text that is nearly valid (phones, dates, numbers, names) so that the parsers' edges are
reached too; up to Telegram's 4,096 characters."""
from __future__ import annotations

from hypothesis import strategies as st

MARKS = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
         "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\u00ad", "\u061c", "\u3164", "\u180e", "\u2028",
         "\u2029", "\u0085", "\u00a0", "\u3000"]
HTML = ["<", ">", "&", "&amp;", "&lt;", "&#60;", "&#x3c;", "&nbsp;", "<b>", "</b>", "<i>x</i>", "<a href='x'>",
        "</a>", '"', "'", "<tg-spoiler>", "<br>", "<script>alert(1)</script>", "<<>>", "&&", "<b", "&#0;"]
NEAR_VALID = ["张伟", "王芳", "13800138000", "+86 138 0013 8000", "8613800138000", "138-0013-8000", "１３８００１３８０００",
              "2026-11-30 18:00", "2026-11-23 09:00 ~ 2026-11-30 18:00", "2026-11-24 16:00-18:00", "2026-02-30",
              "9999-12-31 23:59", "0000-00-00", "18:00", "25:61", "10", "0", "-1", "+5", "-2 迟到", "1e9", "NaN",
              "99999999999999999999999", "٣", "३", "¹", "Ⅻ", "〇", "五", "11010519491231002X", "A", "全心全意为人民服务",
              "中共郑州市金水区委宣传部", "河南省郑州市", "第一党支部", "/cancel", "/start", "/start x", "@all", "#1"]

_any_char = st.characters(exclude_categories=("Cs",))
_piece = st.one_of(
    st.text(_any_char, min_size=1, max_size=10),
    st.sampled_from(MARKS),
    st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Mn", "Me")).map(str),
    st.sampled_from(HTML),
    st.text(st.characters(categories=("Nd", "Nl", "No")), min_size=1, max_size=4),
    st.sampled_from(NEAR_VALID),
)
_composed = st.lists(_piece, min_size=1, max_size=8).map("".join)
_long = st.tuples(_composed, st.integers(4000, 4096)).map(lambda p: (p[0] * 4096)[:p[1]])


def is_message(text: str) -> bool:
    """Telegram delivers no empty or whitespace-only message."""
    return bool(text.strip())


def typed_text() -> st.SearchStrategy[str]:
    return st.one_of(_composed, _composed, _composed, _long, st.sampled_from(NEAR_VALID)).filter(is_message)
