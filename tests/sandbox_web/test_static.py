"""The sandbox web chat (bot/sandbox/static/): served by the sandbox app, self-contained (no CDN,
the machines are offline), no HTML injection primitives, both UI languages complete, and the
control API answers in the shapes the page reads."""
from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.sandbox.server import build_sandbox_app

STATIC = Path(__file__).resolve().parents[2] / "bot" / "sandbox" / "static"
INDEX = (STATIC / "index.html").read_text(encoding="utf-8")
CSS = (STATIC / "chat.css").read_text(encoding="utf-8")
JS = (STATIC / "chat.js").read_text(encoding="utf-8")


def _dict_keys(lang: str) -> set[str]:
    """Keys of I18N.<lang> in chat.js (one `key: 'text',` per line)."""
    start = JS.index(f"\n    {lang}: {{\n")
    end = JS.index("\n    },\n", start)
    return set(re.findall(r"^\s{6}(\w+):", JS[start:end], re.M))


def test_no_external_resources() -> None:
    allowed = {"www.w3.org"}  # SVG namespaces only
    for name, text in (("index.html", INDEX), ("chat.css", CSS), ("chat.js", JS)):
        hosts = set(re.findall(r"https?://([A-Za-z0-9.-]+)", text)) - allowed
        assert not hosts, f"{name} refers to {hosts}"
    assert "@import" not in CSS
    assert re.findall(r'(?:src|href)="(/[^"]*)"', INDEX) == ["/static/chat.css", "/static/chat.js"]


def test_script_never_injects_html() -> None:
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert banned not in JS, banned


def test_both_languages_are_complete() -> None:
    zh, en = _dict_keys("zh"), _dict_keys("en")
    assert len(zh) > 50
    assert zh == en, (zh ^ en)
    used = set(re.findall(r'data-i18n(?:-placeholder|-title)?="(\w+)"', INDEX))
    used |= set(re.findall(r"\bt\('(\w+)'", JS))
    assert used <= zh, used - zh


async def test_served_and_api_shapes() -> None:
    app = build_sandbox_app()
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/")
        assert resp.status == 200
        assert "/static/chat.js" in await resp.text()
        for name, ctype in (("chat.js", "javascript"), ("chat.css", "text/css")):
            resp = await client.get(f"/static/{name}")
            assert resp.status == 200 and ctype in resp.headers["Content-Type"]

        # what the page reads from the control API
        assert "bot" in await (await client.get("/sandbox/info")).json()
        uid = (await (await client.post("/sandbox/users", json={"first_name": "测试", "language_code": "zh"})).json())["id"]
        users = (await (await client.get("/sandbox/users")).json())["users"]
        assert {"id", "first_name", "last_name", "username", "language_code", "phone", "blocked"} <= set(users[0])
        sent = await (await client.post(f"/sandbox/users/{uid}/send", json={"text": "/start"})).json()
        feed = await (await client.get(f"/sandbox/users/{uid}/messages?since=0&wait=0")).json()
        assert {"seq", "messages", "reply_keyboard"} <= set(feed)
        msg = feed["messages"][0]
        assert msg["message_id"] == sent["message_id"] and msg["from"] == "user" and msg["text"] == "/start"
        assert {"date", "edited", "protect_content"} <= set(msg)
        resp = await client.post(f"/sandbox/users/{uid}/contact", json={})
        assert resp.status == 400 and "error" in await resp.json()
        cmds = await client.get(f"/sandbox/users/{uid}/commands")
        assert cmds.status == 404 or "commands" in await cmds.json()
        assert (await client.post(f"/sandbox/users/{uid}/block", json={})).status == 200
        assert (await (await client.get("/sandbox/users")).json())["users"][0]["blocked"] is True
        assert (await client.post(f"/sandbox/users/{uid}/unblock", json={})).status == 200
