"""Telegram's HTML parse mode: HTML source -> (plain text, entities), and back to safe HTML.

`parse_html` follows the parser of TDLib (what the Bot API runs): the supported tags, the
four named HTML entities plus numeric ones, and the same error texts ("Unsupported start tag
"x" at byte offset N", "Can't find end tag corresponding to start tag "b"", ...). Entity
offsets and lengths are in UTF-16 code units. `trim` strips leading/trailing whitespace the
way Telegram does and moves the entities accordingly. `render_html` turns text + entities
into HTML with only known tags (for the web chat), escaping everything else.
`message_text` and `check_markup` apply Telegram's other formatting rules (length limits,
parse modes, keyboard validation) and raise ValueError with the Bot API's error text.
"""
from __future__ import annotations

import re
from typing import Any

SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "code": "code",
}
SUPPORTED_TAGS = set(SIMPLE_TAGS) | {"a", "span", "pre", "blockquote", "tg-emoji"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
SAFE_URL = re.compile(r"^(https?|tg|ton|mailto)://|^mailto:", re.IGNORECASE)
TRIM_CHARS = (" \t\n\r\f\v\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
              "\u200b\u2028\u2029\u202f\u205f\u3000\ufeff")


class EntityParseError(ValueError):
    """The text the Bot API puts after "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_space(ch: str) -> bool:
    return ch in " \t\r\n\f\v"


def _decode_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode the HTML entity starting with '&' at i -> (character, index after ';')."""
    n = len(src)
    j = i + 1
    if j < n and src[j] == "#":
        j += 1
        base, digits = 10, "0123456789"
        if j < n and src[j] in "xX":
            j += 1
            base, digits = 16, "0123456789abcdefABCDEF"
        start = j
        while j < n and src[j] in digits:
            j += 1
        if j == start or j >= n or src[j] != ";" or j - start > 8:
            return None
        code = int(src[start:j], base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), j + 1
    start = j
    while j < n and src[j].isascii() and src[j].isalpha():
        j += 1
    name = src[start:j]
    if j >= n or src[j] != ";" or name not in NAMED_ENTITIES:
        return None
    return NAMED_ENTITIES[name], j + 1


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(_is_space(c) for c in url):
        return None
    if SAFE_URL.match(url):
        return url
    if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE) and not re.match(r"^[^:/]+:\d", url):
        return None  # some other scheme (javascript:, data:, ...): Telegram drops the link
    return "http://" + url


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML. Raises EntityParseError with Telegram's message."""
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int, int]] = []  # (tag, argument, utf16 start, len(out) at start)
    entities: list[dict[str, Any]] = []
    n = len(src)
    i = 0

    def boff(pos: int) -> int:
        return len(src[:pos].encode("utf-8"))

    while i < n:
        c = src[i]
        if c == "&":
            dec = _decode_entity(src, i)
            if dec is not None:
                out.append(dec[0])
                u16 += utf16_len(dec[0])
                i = dec[1]
                continue
        if c != "<":
            out.append(c)
            u16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {boff(begin)}")
            while i < n and not _is_space(src[i]) and src[i] != ">":
                i += 1
            end_name = src[begin + 2:i].lower()
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n or src[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {boff(begin)}")
            i += 1
            tag, arg, start, out_start = stack.pop()
            if end_name and end_name != tag:
                raise EntityParseError(f'Unmatched end tag at byte offset {boff(begin)}, '
                                       f'expected "</{tag}>", found "</{end_name}>"')
            _close(tag, arg, start, u16 - start, "".join(out[out_start:]), entities)
            continue
        while i < n and not _is_space(src[i]) and src[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {boff(begin)}")
        tag = src[begin + 1:i].lower()
        if tag not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {boff(begin)}')
        arg = ""
        while True:
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {boff(begin)}')
            if src[i] == ">":
                i += 1
                break
            a_begin = i
            while i < n and not _is_space(src[i]) and src[i] not in "=>":
                i += 1
            attr = src[a_begin:i].lower()
            if not attr:
                raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {boff(begin)}')
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n or src[i] != "=":
                if tag == "blockquote" and attr == "expandable":
                    arg = "1"
                    continue
                raise EntityParseError(f'Expected equal sign in declaration of an attribute of the tag '
                                       f'"{tag}" at byte offset {boff(begin)}')
            i += 1
            while i < n and _is_space(src[i]):
                i += 1
            if i >= n:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {boff(begin)}')
            if src[i] not in "'\"":
                t_begin = i
                while i < n and (src[i].isalnum() or src[i] in ".-"):
                    i += 1
                value = src[t_begin:i].lower()
                if i < n and not _is_space(src[i]) and src[i] != ">":
                    raise EntityParseError(f"Unexpected end of name token at byte offset {boff(t_begin)}")
            else:
                quote = src[i]
                i += 1
                chars: list[str] = []
                while i < n and src[i] != quote:
                    if src[i] == "&":
                        dec = _decode_entity(src, i)
                        if dec is not None:
                            chars.append(dec[0])
                            i = dec[1]
                            continue
                    chars.append(src[i])
                    i += 1
                if i < n:
                    i += 1
                value = "".join(chars)
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {boff(begin)}")
            if tag == "a" and attr == "href":
                arg = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                arg = value[len("language-"):]
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                arg = value[3:]
            elif tag == "tg-emoji" and attr == "emoji-id":
                arg = value
            elif tag == "blockquote" and attr == "expandable":
                arg = "1"
        if tag == "span" and arg != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {boff(begin)}')
        stack.append((tag, arg, u16, len(out)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close(tag: str, arg: str, offset: int, length: int, inner: str, entities: list[dict[str, Any]]) -> None:
    if length <= 0:
        return
    ent: dict[str, Any] = {"offset": offset, "length": length}
    if tag in SIMPLE_TAGS:
        ent["type"] = SIMPLE_TAGS[tag]
    elif tag == "span":
        ent["type"] = "spoiler"
    elif tag == "a":
        url = _normalize_url(arg or inner)
        if url is None:
            return
        ent.update(type="text_link", url=url)
    elif tag == "pre":
        ent["type"] = "pre"
        if entities and entities[-1]["type"] == "code" and entities[-1]["offset"] == offset \
                and entities[-1]["length"] == length:
            code = entities.pop()
            if code.get("language"):
                ent["language"] = code["language"]
    elif tag == "blockquote":
        ent["type"] = "expandable_blockquote" if arg else "blockquote"
    elif tag == "tg-emoji":
        if not arg.isdigit():
            return
        ent.update(type="custom_emoji", custom_emoji_id=arg)
    if tag == "code" and arg:
        ent["language"] = arg  # kept only until the enclosing <pre> closes (see above)
    entities.append(ent)


def finish_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop helper keys (a <code class="language-x"> outside <pre> has no language)."""
    for ent in entities:
        if ent["type"] == "code":
            ent.pop("language", None)
    return entities


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram, shifting and clipping entities."""
    stripped = text.lstrip(TRIM_CHARS)
    shift = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(TRIM_CHARS)
    total = utf16_len(stripped)
    out = []
    for ent in entities:
        start = max(ent["offset"] - shift, 0)
        end = min(ent["offset"] + ent["length"] - shift, total)
        if end > start:
            out.append({**ent, "offset": start, "length": end - start})
    return stripped, out


def html_to_text(src: str) -> tuple[str, list[dict[str, Any]]]:
    """parse_html + trim: what Telegram stores for a message sent with parse_mode=HTML."""
    text, entities = parse_html(src)
    return trim(text, finish_entities(entities))


def render_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Safe HTML for the web chat: aiogram's own unparser over validated entities."""
    from aiogram.types import MessageEntity
    from aiogram.utils.text_decorations import html_decoration

    safe = []
    for ent in entities or []:
        if ent.get("type") == "text_link" and not SAFE_URL.match(str(ent.get("url", ""))):
            continue
        try:
            safe.append(MessageEntity.model_validate(ent))
        except Exception:  # noqa: BLE001 - a malformed entity is simply not rendered
            continue
    return html_decoration.unparse(text, safe)


def message_text(text: str, parse_mode: str | None, entities: Any, *, caption: bool
                 ) -> tuple[str, list[dict[str, Any]]]:
    """Text + entities as Telegram stores them; ValueError(Bot API text after "Bad Request: ")."""
    mode = (parse_mode or "").lower()
    if entities is not None:
        if not isinstance(entities, list):
            raise ValueError("can't parse entities JSON object")
    elif mode == "html":
        try:
            text, entities = html_to_text(text)
        except EntityParseError as exc:
            raise ValueError(f"can't parse entities: {exc}") from None
    elif mode in ("markdown", "markdownv2"):
        raise ValueError("can't parse entities: the sandbox only implements parse_mode HTML")
    elif mode:
        raise ValueError("unsupported parse_mode")
    if utf16_len(text) > (1024 if caption else 4096):
        raise ValueError("message caption is too long" if caption else "message is too long")
    return text, entities or []


def check_markup(markup: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Validate reply_markup -> (inline keyboard to echo on the message, reply-keyboard change).

    The reply-keyboard change is the normalized ReplyKeyboardMarkup or {"remove_keyboard": True};
    ForceReply and absent markup give (None, None). ValueError carries Telegram's error text.
    """
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise ValueError("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ValueError('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not str(button.get("text") or ""):
                raise ValueError("can't parse inline keyboard button: Text must be non-empty")
            if len(button) < 2:
                raise ValueError("can't parse inline keyboard button: "
                                 "Text buttons are unallowed in the inline keyboard")
            if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                raise ValueError("BUTTON_DATA_INVALID")
            if "url" in button and not str(button["url"]).strip():
                raise ValueError("BUTTON_URL_INVALID")
        return {"inline_keyboard": rows}, None
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ValueError("can't parse reply keyboard markup JSON object")
        keyboard = [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]
        return None, {**markup, "keyboard": keyboard}
    if markup.get("remove_keyboard"):
        return None, {"remove_keyboard": True}
    return None, None
