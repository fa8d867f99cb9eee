"""The bot sends only current Bot API parameters: those deprecated since Bot API 7.0 are replaced by
`link_preview_options` and `reply_parameters` (Telegram still accepts the old ones, for now)."""
from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
DEPRECATED = {"disable_web_page_preview": "link_preview_options", "reply_to_message_id": "reply_parameters",
              "allow_sending_without_reply": "reply_parameters"}


def deprecated_arguments(source: str) -> list[tuple[int, str]]:
    return [(node.lineno, kw.arg) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg in DEPRECATED]


def test_the_scan_finds_a_deprecated_argument() -> None:
    assert deprecated_arguments("m.answer('x', disable_web_page_preview=True)") == [(1, "disable_web_page_preview")]


def test_no_call_in_the_bot_passes_a_deprecated_bot_api_parameter() -> None:
    found = [f"{path.relative_to(BOT.parent)}:{line}: {arg} (use {DEPRECATED[arg]})"
             for path in sorted(BOT.rglob("*.py")) for line, arg in deprecated_arguments(path.read_text())]
    assert found == []
