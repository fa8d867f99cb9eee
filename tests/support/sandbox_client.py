"""Drives a running sandbox over HTTP exactly as a chat client would (the control API)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class HTTPError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keyboard(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return (message.get("reply_markup") or {}).get("inline_keyboard") or []


def find_button(message: dict[str, Any], label: str) -> dict[str, Any]:
    labels = [b["text"] for row in _keyboard(message) for b in row]
    for exact in (True, False):
        found = [b for row in _keyboard(message) for b in row if (b["text"] == label if exact else label in b["text"])]
        if len(found) > 1:
            raise AssertionError(f"{len(found)} buttons match {label!r}: {[b['text'] for b in found]}")
        if found:
            if "callback_data" not in found[0]:
                raise AssertionError(f"button {found[0]['text']!r} is not a callback button")
            return found[0]
    raise AssertionError(f"no button {label!r} on message {message['message_id']}; the buttons there are: {labels}")


class Sandbox:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 40) -> Any:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if raw is None and body is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = resp.read()
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            text = err.read()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text.decode(errors="replace")
            raise HTTPError(err.code, parsed) from None
        return json.loads(payload) if "json" in ctype else payload

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def user(self, first_name: str = "测试", phone: str | None = None, language_code: str = "zh",
             **extra: Any) -> SandboxUser:
        body = {"first_name": first_name, "language_code": language_code, **extra}
        if phone:
            body["phone"] = phone
        uid = self.post("/sandbox/users", body)["id"]
        return SandboxUser(self, uid)

    def file(self, url: str) -> bytes:
        return self.get(url if url.startswith("/") else "/" + url.split("/", 3)[-1])


@dataclass
class SandboxUser:
    sb: Sandbox
    id: int
    seen: int = 0  # highest message id the person sent or expect() matched
    seq: int = 0  # the sandbox's change counter up to which expect() has looked
    log: list[dict[str, Any]] = field(default_factory=list)

    def send(self, text: str) -> int:
        mid = self.sb.post(f"/sandbox/users/{self.id}/send", {"text": text})["message_id"]
        self.seen = max(self.seen, mid)
        return mid

    def contact(self, **other: Any) -> int:
        mid = self.sb.post(f"/sandbox/users/{self.id}/contact", other)["message_id"]
        self.seen = max(self.seen, mid)
        return mid

    def sticker(self) -> int:
        return self.sb.post(f"/sandbox/users/{self.id}/sticker", {})["message_id"]

    def upload(self, kind: str, name: str, data: bytes, caption: str | None = None) -> int:
        boundary = uuid.uuid4().hex
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"]
        if caption:
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n"
                         .encode())
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.sb.request("POST", f"/sandbox/users/{self.id}/{kind}", raw=body,
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})["message_id"]

    def messages(self, after: int = 0, wait: float = 0) -> list[dict[str, Any]]:
        out = self.sb.get(f"/sandbox/users/{self.id}/messages?after={after}&wait={wait}")
        return out["messages"]

    def reply_keyboard(self) -> Any:
        return self.sb.get(f"/sandbox/users/{self.id}/messages?after=0")["reply_keyboard"]

    def expect(self, needle: str | Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        """The first bot message, new or edited since the last expect(), that contains `needle`."""
        match = needle if callable(needle) else (lambda m: needle in (m.get("text") or m.get("caption") or ""))
        deadline = time.monotonic() + timeout
        wait = 0.0
        while True:
            out = self.sb.get(f"/sandbox/users/{self.id}/messages?since={self.seq}&wait={wait}")
            for msg in sorted(out["messages"], key=lambda m: m.get("seq", 0)):
                if msg["from"] == "bot" and match(msg):
                    self.seen = max(self.seen, msg["message_id"])
                    self.seq = msg.get("seq", self.seq)
                    return msg
            self.seq = out["seq"]
            left = deadline - time.monotonic()
            if left <= 0:
                recent = [m.get("text") or m.get("caption") for m in self.messages()][-5:]
                raise AssertionError(f"no bot message with {needle!r}; recent: {recent}")
            wait = min(left, 5)

    def current(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message` as it is in the chat now (edits applied); gone if it was deleted."""
        for now in self.messages(after=message["message_id"] - 1):
            if now["message_id"] == message["message_id"]:
                return now
        raise AssertionError(f"message {message['message_id']} is no longer in the chat")

    def press(self, message: dict[str, Any], label: str, *, wait: float | None = None) -> dict[str, Any]:
        """Presses the button labelled `label` on `message` as it is now: the exact label, else the one
        label that contains it; none or several fail with the labels there are. `wait`: seconds to
        wait for the bot's answer to the press (the sandbox's default 5; 0 returns at once)."""
        now = self.current(message)
        button = find_button(now, label)
        body: dict[str, Any] = {"message_id": now["message_id"], "data": button["callback_data"]}
        if wait is not None:
            body["wait"] = wait
        return self.sb.post(f"/sandbox/users/{self.id}/press", body)

    def press_latest(self, label: str) -> dict[str, Any]:
        """Presses `label` on the newest bot message of the chat that has such a button."""
        for message in reversed(self.messages()):
            labels = [b["text"] for row in _keyboard(message) for b in row]
            if message["from"] == "bot" and any(label in text for text in labels):
                return self.press(message, label)
        raise AssertionError(f"no message has a button {label!r}")

    def press_reply(self, label: str) -> Any:
        return self.sb.post(f"/sandbox/users/{self.id}/press", {"text": label})


class SandboxProcess:
    """`xuexi-bot sandbox` in a child process on a free port, with its own database."""

    def __init__(self, db: Path, *, demo: bool = False, extra_env: dict[str, str] | None = None,
                 args: list[str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.db = db
        cmd = [sys.executable, "-m", "bot", "sandbox", "--port", str(self.port), "--db", str(db), *(args or [])]
        if demo:
            cmd.append("--demo")
        env = {**os.environ, "SECRET_KEY": "e2e-secret-key-0123456789", "PYTHONUNBUFFERED": "1",
               **(extra_env or {})}
        self.log_path = db.with_suffix(".log")
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=db.parent, env=env, stdout=subprocess.PIPE, stderr=self._log)
        self.sandbox = Sandbox(f"http://127.0.0.1:{self.port}")
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"sandbox exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            if line.startswith(b"{") and b"web_chat" in line:
                return
        raise RuntimeError("sandbox did not start in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
