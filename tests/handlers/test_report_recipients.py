"""REP-5's recipients. SEC-5 in the daily push: members may be named recipients, and only a recipient who
is an admin of the organisation when the slot is sent gets full phone numbers in the workbook; every other
recipient gets them masked (138****0002), in the workbook and in the texts. A recipient who left the
organisation is no longer sent anything and does not block the settings."""
from __future__ import annotations

from io import BytesIO

from aiogram.methods import SendDocument
from openpyxl import load_workbook

from bot.reports_notify import push_report
from bot.services import reports as svc
from bot.services.roles import Actor
from tests.handlers.test_orgreport import ADMIN, ALICE, BOB, setup
from tests.support.factories import NOW, make_member, make_user

ALICE_PHONE, BOB_PHONE = "+8613800510002", "+8613800510003"  # as tests.support.factories.make_user gives them


def phone_cells(data: bytes) -> dict[str, str]:
    """name -> the phone cell of the members sheet."""
    members = load_workbook(BytesIO(data)).worksheets[1]
    assert [c.value for c in members[1]][:2] == ["姓名", "手机号"]
    return {r[0]: str(r[1]) for r in members.iter_rows(min_row=2, values_only=True)}


async def name_recipients(store, clock, root: int, recipients: tuple[int, ...]) -> None:
    """/reportsettings by the main admin: a workbook every day to `recipients`."""
    admin = Actor(user=await store.get_user(ADMIN), admin_org_ids=frozenset({root}))
    s = await svc.settings(store, admin, root)
    await svc.save_settings(store, clock, admin, s.__class__(root, True, "08:00", "xlsx", 5, 3, recipients))


async def workbooks_after_push(store, clock, i18n, outbox, session, root: int, recipients: tuple[int, ...]
                               ) -> dict[int, bytes]:
    """Today's slot of each recipient, sent through the outbox: recipient -> the workbook received."""
    for user_id in recipients:
        assert await push_report(store, clock, i18n, outbox, root, user_id, clock.today()) == 3
    before = len(session.calls)
    await outbox.flush()
    sent = [c for c in session.calls[before:] if isinstance(c, SendDocument)]
    texts = " ".join(str(getattr(c, "text", "") or getattr(c, "caption", "") or "") for c in session.calls[before:])
    for phone in (ALICE_PHONE, BOB_PHONE):
        assert phone[3:] not in texts, "no full phone in any text or caption of the push"
    books: dict[int, bytes] = {}
    uploaded = b""
    for c in sent:  # a workbook the same as one uploaded before goes again by its file_id (bot/outbox.py)
        if not isinstance(c.document, str):
            uploaded = c.document.data
        books[int(c.chat_id)] = uploaded
    return books


async def test_sec_5_member_recipient_gets_masked_phones_admin_recipient_full(store, clock, i18n, outbox, session):
    root, _lower = await setup(store, clock)
    await name_recipients(store, clock, root, (ADMIN, ALICE))
    books = await workbooks_after_push(store, clock, i18n, outbox, session, root, (ADMIN, ALICE))
    assert set(books) == {ADMIN, ALICE}
    member_view, admin_view = phone_cells(books[ALICE]), phone_cells(books[ADMIN])
    assert member_view["王芳"] == "138****0002" and member_view["李强"] == "138****0003"
    assert admin_view["王芳"] == "13800510002" and admin_view["李强"] == "13800510003"
    assert "0051000" not in every_cell(books[ALICE]), "no full number anywhere in the member's workbook"


async def test_sec_5_admin_role_is_judged_at_send_time(store, clock, i18n, outbox, session):
    """A recipient who is no longer an admin when the slot runs (still a member), and an admin who has not
    verified yet (RNV-1: not an admin yet), get masked phones."""
    root, _lower = await setup(store, clock)
    former = 510006
    await make_member(store, root, "周前任", await make_user(store, former, "周前任", verified=True), "第一支部",
                      activated=True)
    async with store.raw_tx() as db:
        for user_id in (former, BOB):  # BOB is registered, not verified
            await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', ?)",
                             (root, user_id, NOW))
    await name_recipients(store, clock, root, (former, BOB))
    async with store.raw_tx() as db:  # stepped down after being named a recipient
        await db.execute("DELETE FROM org_admins WHERE org_id = ? AND user_id = ?", (root, former))
    books = await workbooks_after_push(store, clock, i18n, outbox, session, root, (former, BOB))
    assert phone_cells(books[former])["王芳"] == "138****0002"
    assert phone_cells(books[BOB])["王芳"] == "138****0002"


def every_cell(data: bytes) -> str:
    book = load_workbook(BytesIO(data))
    return "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row)


async def test_rep_5_a_recipient_who_left_does_not_block_the_settings(store, clock, client_factory, i18n, outbox):
    root, _lower = await setup(store, clock)
    await name_recipients(store, clock, root, (ALICE, BOB))
    async with store.raw_tx() as db:  # Alice left the organisation
        await db.execute("DELETE FROM members WHERE org_id = ? AND phone = ?", (root, ALICE_PHONE))
    assert await push_report(store, clock, i18n, outbox, root, ALICE, clock.today()) == 0
    client = client_factory(ADMIN)
    asked = await client.press(await client.send("/reportsettings"), "发送时间")
    assert "发送时间" in asked.text
    saved = await client.send("21:30")
    assert "已保存" in saved.text and "每天 21:30" in saved.text, saved.text
    assert (await store.report_settings(root)).recipients == (BOB,), "the one who left is taken off"
