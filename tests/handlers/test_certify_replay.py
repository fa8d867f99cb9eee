"""Found by the crash tests (issue 16): the bot killed after an approval committed and before its notices
were written. The press, handled again at start, stopped at "already decided" and the lower organisation
was never told it is certified. Now the same decision by the admin who made it goes on to the notices
(deduplicated by key: nobody is told twice); another admin is still told who decided."""
from __future__ import annotations

from aiogram.methods import SendMessage

from bot.services import certification as cert
from bot.services.roles import Actor
from tests.handlers.test_certify import (
    C_ADMIN,
    R_ADMIN,
    R_ADMIN2,
    alert,
    apply_with,
    invite_payload,
    pushed,
    setup_r_and_c,
)
from tests.support.factories import make_user
from tests.support.sql import store_rows as rows


async def test_an_approval_killed_before_its_notices_tells_the_lower_side_when_pressed_again(
        client_factory, store, session, outbox, clock):
    r, c = await setup_r_and_c(store)
    rc, cc = client_factory(R_ADMIN), client_factory(C_ADMIN)
    await apply_with(cc, await invite_payload(rc), "郑州市委宣传部")
    (notice,) = await pushed(outbox, session, R_ADMIN)
    # the dead run: the decision committed, then the process died (no reply, no notices)
    (app_id,) = [a for (a,) in await rows(store, "SELECT id FROM cert_applications")]
    admin = Actor(user=await store.get_user(R_ADMIN), admin_org_ids=frozenset({r}), main_admin_org_ids=frozenset({r}))
    await cert.decide(store, clock, admin, app_id, True)
    assert await pushed(outbox, session, C_ADMIN) == []

    again = await rc.press(notice, "✅ 同意")  # the same press, handled again after the restart
    assert "已同意“郑州市委宣传部”认证为" in again.text
    (told,) = await pushed(outbox, session, C_ADMIN)
    assert "“郑州市委宣传部”现已认证" in told.text

    await rc.press(notice, "✅ 同意")  # pressed once more: the notices are not written twice
    assert await pushed(outbox, session, C_ADMIN) == []
    assert await rows(store, "SELECT COUNT(*) FROM audit_log WHERE action = 'cert.approve'") == [(1,)]


async def test_another_admin_is_still_told_who_decided(client_factory, store, session, outbox):
    r, _c = await setup_r_and_c(store)
    await make_user(store, R_ADMIN2, "任副主任", verified=True)
    async with store.raw_tx() as db:
        await db.execute("INSERT INTO org_admins (org_id, user_id, role, added_at) VALUES (?, ?, 'admin', 'x')",
                         (r, R_ADMIN2))
    rc, other = client_factory(R_ADMIN), client_factory(R_ADMIN2)
    await apply_with(client_factory(C_ADMIN), await invite_payload(rc), "郑州市委宣传部")
    notices = {m.chat_id: m for m in await pushed(outbox, session)}
    assert "已同意" in (await rc.press(notices[R_ADMIN], "✅ 同意")).text
    late = await other.press(notices[R_ADMIN2], "✅ 同意")
    assert "已经由 罗主任 处理过了（已同意）" in alert(late)
    assert not late.of(SendMessage)
    await pushed(outbox, session)  # the notices of the one decision
    await other.press(notices[R_ADMIN2], "✅ 同意")
    assert await pushed(outbox, session) == []
