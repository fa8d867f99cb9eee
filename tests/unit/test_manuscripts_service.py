"""WORK-3 rules without the dispatcher: the 20 MB attachment limit, forwarding only from a certified
organisation that has an upper one, one decision per step, per-organisation counts."""
from __future__ import annotations

import pytest

from bot.errors import DomainError, NotAllowed
from bot.middlewares import load_actor
from bot.repositories.manuscripts import ManuscriptCounts
from bot.services import manuscripts as svc
from tests.support.factories import make_member, make_org, make_user

ROOT_ADMIN, WRITER = 100001, 200001


def test_work_3_attachment_limits():
    ok = svc.check_attachment("document", "f1", "a.pdf", 20 * 1024 * 1024, 0)
    assert ok.file_size == 20 * 1024 * 1024
    with pytest.raises(DomainError) as err:
        svc.check_attachment("document", "f2", "b.mp4", 20 * 1024 * 1024 + 1, 0)
    assert err.value.key == "manuscript.file_too_big" and err.value.params["limit_mb"] == 20
    with pytest.raises(DomainError) as err:
        svc.check_attachment("photo", "f3", None, 10, svc.MAX_FILES)
    assert err.value.key == "manuscript.too_many_files"


async def test_work_3_root_cannot_forward_and_a_decision_is_made_once(store, settings, clock):
    await make_user(store, ROOT_ADMIN, "管理", verified=True)
    root = await make_org(store, "省委宣传部", ROOT_ADMIN, certified=True)
    phone = await make_user(store, WRITER, "作者")
    await make_member(store, root, "作者", phone, activated=True)
    admin = await load_actor(store, settings, await store.get_user(ROOT_ADMIN))
    writer = await load_actor(store, settings, await store.get_user(WRITER))
    with pytest.raises(NotAllowed):
        await svc.submit_orgs(store, writer)
    member_id = (await store.membership_in(root, phone)).id
    await svc.set_correspondent(store, clock, admin, member_id, True)
    done = await svc.submit(store, clock, writer, root, "标题", "正文", "栏目", [])
    assert done.admins == [(ROOT_ADMIN, None)]
    ms_id = done.manuscript.row.id
    with pytest.raises(DomainError) as err:
        await svc.forward(store, clock, admin, ms_id)
    assert err.value.key == "manuscript.no_upper"
    await svc.accept(store, clock, admin, ms_id)
    with pytest.raises(DomainError) as err:
        await svc.reject(store, clock, admin, ms_id, "晚了")
    assert err.value.key == "manuscript.decided"
    assert await svc.counts(store, admin, root) == ManuscriptCounts(1, 0, 1)
    assert [s.action for s in (await svc.for_author(store, writer, ms_id)).steps] == ["submitted", "accepted"]
