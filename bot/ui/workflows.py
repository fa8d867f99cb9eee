"""Where one conversation hands over to another without importing it: deep-link payloads
(`/start <payload>`, opened by registered users and resumed after registration, REG-6), what resumes
after real-name verification (RNV-1), and the admin commands that resume once a new admin verified.

The composition root (bot/handlers/__init__.py: build_workflows) fills a `Workflows` and the
dispatcher hands it to every handler as `workflows`; a handler that needs another area's entry
point looks it up there, so no flow imports another flow or a handler module.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import Message

from bot.i18n import Translator

PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# opener(message, payload_rest, **data): a deep link of one kind, e.g. "j" (MEM-6), "c" (CERT-2)
Opener = Callable[..., Awaitable[None]]
# resume(message, after, **data): what a flow asked to be continued after /verify
Resume = Callable[..., Awaitable[None]]
# command(message, org_id, **data): an admin command for one chosen organisation
OrgCommand = Callable[..., Awaitable[None]]
# command(message, **data): an admin command over all the actor's organisations (no choice)
AdminCommand = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Workflows:
    openers: Mapping[str, Opener] = field(default_factory=dict)  # payload prefix → opener
    resumes: Mapping[str, Resume] = field(default_factory=dict)  # after["action"] → resume
    org_commands: Mapping[str, OrgCommand] = field(default_factory=dict)  # /members, /invite … for one org
    admin_commands: Mapping[str, AdminCommand] = field(default_factory=dict)  # /review: all their orgs


async def open_payload(payload: str, message: Message, _: Translator, workflows: Workflows, **data: Any) -> None:
    if PAYLOAD_RE.match(payload):
        prefix, sep, rest = payload.partition("_")
        opener = workflows.openers.get(prefix) if sep else None
        if opener is not None:
            await opener(message, rest, _=_, workflows=workflows, **data)
            return
    await message.answer(_("links.invalid"))


async def resume_after_verify(after: dict[str, Any], message: Message, workflows: Workflows, **data: Any) -> None:
    action = workflows.resumes.get(after.get("action", ""))
    if action is not None:
        await action(message, after, workflows=workflows, **data)
