"""Issue 15, escaped twice: the README tour with people and places named `<b>&</b>"x'`.

Every command of the tour is sent, then every button on what it shows is pressed (breadth first, each
callback once; the buttons that destroy what the rest of the tour needs — confirm dissolve / remove /
delete / hand over / revoke / uncertify — are rendered and checked but not pressed), as an admin, a
member, the operator and a visitor who registers, plus the typed steps that show names (search, the
certification form), and the pushes that went to other people. What a person sees is checked: each text the bot sent is parsed the way Telegram
parses HTML (bot/sandbox/html_entities.py, the sandbox's copy of TDLib's parser) and must parse; the
visible text and every button label (sent as is, never parsed) must hold no `&amp;`, `&lt;`… and show
each hostile name whole wherever it shows it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
)
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.i18n import I18n
from bot.sandbox.html_entities import EntityParseError, html_to_text
from tests.conftest import OPERATOR_ID
from tests.support.factories import make_member, make_org, make_user
from tests.support.quiz_factories import make_bank, make_question

H = "<b>&</b>\"x'"  # the hostile part of every name
# each name starts with words no template uses, so that wherever they show the test can tell the name is whole
ADMIN_NAME, ADMIN2_NAME, MEMBER_NAME, OTHER_NAME = f"张甲{H}", f"李乙{H}", f"王丙{H}", f"赵丁{H}"
ORG, LOWER, OTHER = f"研发&测试{H}", f"竹林{H}", f"梅园{H}"
GENERAL, BRANCH, REGION = f"松柏{H}", f"枫叶{H}", f"桃源{H}"
STEM, VISITOR_NAME = f"题干{H}", f"访客{H}"
NAMES = [ADMIN_NAME, ADMIN2_NAME, MEMBER_NAME, OTHER_NAME, ORG, LOWER, OTHER, GENERAL, BRANCH, REGION, STEM,
         VISITOR_NAME, f"孙戊{H}", f"甲选项{H}", f"释义{H}"]
ADMIN, ADMIN2, MEMBER, OTHER_ADMIN, VISITOR = 700001, 700002, 700003, 700004, 700005
ESCAPES = re.compile(r"&(?:amp|lt|gt|quot|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
COMMANDS = ["/start", "/help", "/verify", "/cancel", "/quiz", "/cancel", "/weekly", "/cancel", "/records",
            "/wrongbook", "/report", "/rank", "/join", "/cancel", "/neworg", "/cancel", "/org", "/cancel",
            "/members", "/cancel", "/template", "/export", "/invite", "/cancel", "/certify", "/applications",
            "/audit", "/lang", "/cancel"]
# Pressing these would end what the rest of the tour shows; their labels are still checked.
NOT_PRESSED = ["certify.btn_uncertify_yes", "memberedit.btn_remove_yes", "orgmenu.btn_dissolve_yes",
               "branches.btn_delete_yes", "admins.btn_remove_yes", "admins.btn_handover_yes",
               "certify.links.btn_revoke", "invite.btn_revoke", "start.btn_lang"]


@dataclass
class Seen:
    """What the people of the tour saw: visible texts and labels, and what was wrong with them."""
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self, source: str | None, html: bool, what: str) -> None:
        if not source:
            return
        if html:
            try:
                source, _ = html_to_text(source)
            except EntityParseError as exc:
                self.problems.append(f"{what}: can't parse entities: {exc}: {source[:200]!r}")
                return
        self.texts.append(source)
        if ESCAPES.search(source):
            self.problems.append(f"{what} shows an escape: {source[:300]!r}")

    def label(self, label: str) -> None:
        self.labels.append(label)
        if ESCAPES.search(label):
            self.problems.append(f"button label shows an escape: {label!r}")

    def markup(self, markup) -> None:
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for b in row:
                    self.label(b.text)
        elif isinstance(markup, ReplyKeyboardMarkup):
            for row in markup.keyboard:
                for b in row:
                    self.label(b.text)

    def whole_names(self) -> None:
        """Wherever a name's plain part shows, its hostile part follows it whole (or cut with `…`)."""
        for shown in self.texts + self.labels:
            for name in NAMES:
                head = name[:-len(H)]
                for match in re.finditer(re.escape(head), shown):
                    rest = shown[match.end():match.end() + len(H)]
                    cut = rest.split("…")[0]
                    if rest != H and not (rest.startswith(cut) and H.startswith(cut) and "…" in rest):
                        self.problems.append(f"{name!r} shows as {shown[match.start():match.end() + 12]!r}")


def check_calls(calls, seen: Seen) -> None:
    for call in calls:
        html = getattr(call, "parse_mode", "HTML") is not None  # the bot's default is HTML
        if isinstance(call, (SendMessage, EditMessageText)):
            seen.text(call.text, html, type(call).__name__)
        elif isinstance(call, (SendPhoto, SendDocument, EditMessageCaption)):
            seen.text(call.caption, html, type(call).__name__ + " caption")
        elif isinstance(call, AnswerCallbackQuery):
            seen.text(call.text, False, "toast")  # answerCallbackQuery text is never parsed
        if isinstance(call, (SendMessage, EditMessageText, SendPhoto, SendDocument, EditMessageReplyMarkup,
                             EditMessageCaption)):
            seen.markup(call.reply_markup)


def not_pressed_labels(i18n: I18n) -> list[str]:
    out = []
    for lang in i18n.languages:
        for key in NOT_PRESSED:
            out.append(i18n.catalogues[lang][key].split("{")[0])
    return out


async def crawl(client, sent, skip: list[str], pressed: set[str], budget: int = 60) -> None:
    """Presses, breadth first, every callback button on the messages `sent` left and on the ones the
    presses bring, each callback once."""
    queue = [m for m in client.window if m.message_id in sent.message_ids(client.user_id)]
    while queue and budget > 0:
        message = queue.pop(0)
        current = {m.message_id: m for m in client.window}.get(message.message_id, message)
        rows = current.reply_markup.inline_keyboard if current.reply_markup else []
        for button in [b for row in rows for b in row]:
            data = button.callback_data
            if not data or data in pressed or any(button.text.startswith(s) for s in skip if s):
                continue
            pressed.add(data)
            budget -= 1
            after = await client._press(current, button)
            ids = after.message_ids(client.user_id)
            queue += [m for m in client.window if m.message_id in ids]
            if budget <= 0:
                break


async def setup(store):
    await make_user(store, ADMIN, ADMIN_NAME, verified=True)
    await make_user(store, ADMIN2, ADMIN2_NAME, verified=True)
    await make_user(store, MEMBER, MEMBER_NAME)
    await make_user(store, OTHER_ADMIN, OTHER_NAME, verified=True)
    await make_user(store, OPERATOR_ID, "运营方", verified=True)
    org = await make_org(store, ORG, ADMIN, admins=[ADMIN2], branches=[GENERAL, (BRANCH, GENERAL)],
                         certified=True, region=REGION)
    lower = await make_org(store, LOWER, ADMIN2, certified=True, parent_id=org, region=REGION)
    await make_org(store, OTHER, OTHER_ADMIN, region=REGION)
    for uid, name, phone in ((ADMIN, ADMIN_NAME, None), (ADMIN2, ADMIN2_NAME, None), (MEMBER, MEMBER_NAME, None)):
        await make_member(store, org, name, phone or f"+86138{uid % 100000000:08d}", BRANCH, activated=True)
    await make_member(store, org, f"孙戊{H}", "+8613911112222", GENERAL)
    await make_member(store, lower, MEMBER_NAME, f"+86138{MEMBER % 100000000:08d}", activated=True)
    await make_question(store, "single", STEM, options=(f"甲选项{H}", "乙", "丙", "丁"), answer=("A",),
                        explanation=f"释义{H}", org_id=org)
    await make_bank(store, 6, org_id=org)
    await make_bank(store, 12)
    return org


async def test_issue15_tour_shows_hostile_names_as_typed(store, client_factory, session, i18n, clock, outbox):
    await setup(store)
    skip = not_pressed_labels(i18n)
    seen = Seen()
    for uid in (ADMIN, MEMBER, OPERATOR_ID):
        client = client_factory(uid, first_name=H)
        pressed: set[str] = set()
        for command in COMMANDS:
            sent = await client.send(command)
            clock.advance(seconds=5)
            await crawl(client, sent, skip, pressed)
            await client.send("/cancel")
    # the typed steps that show names: member search, a branch added, the certification form
    admin = client_factory(ADMIN)
    found = await admin.press(await admin.send("/members"), "🔍 搜索")
    await admin.send("<b>&")
    invite = await admin.press(await admin.send("/certify"), "📨 生成认证邀请（链接和二维码）")
    payload = re.search(r"start=(c_[A-Za-z0-9_-]+)", invite.text).group(1)
    applicant = client_factory(OTHER_ADMIN)
    offer = await applicant.start(payload)
    await applicant.press(offer, "📤")
    # a visitor registers with a hostile Telegram name and types one
    visitor = client_factory(VISITOR, first_name=VISITOR_NAME)
    await visitor.press(await visitor.start(), "✅ 同意并继续")
    await visitor.contact("8613855556666")
    await visitor.send(VISITOR_NAME)
    await visitor.press_latest("跳过 ⏭")
    await visitor.send("/rank")
    await outbox.flush()  # the pushes to other people (applications, decisions) are seen too
    check_calls(session.calls, seen)
    seen.whole_names()
    problems = sorted(set(seen.problems))
    assert found.texts and problems == [], "\n".join(problems)
    shown = "\n".join(seen.texts)
    labels = "\n".join(seen.labels)
    # the tour did reach the screens the issue names, with the names whole
    for name in (ORG, GENERAL, BRANCH, ADMIN_NAME, ADMIN2_NAME, MEMBER_NAME, LOWER, STEM, REGION):
        assert name in shown, name
    for label in (f"{MEMBER_NAME}", f"{ADMIN2_NAME}", f"📤 提交申请：{OTHER}", BRANCH):
        assert label in labels, label
