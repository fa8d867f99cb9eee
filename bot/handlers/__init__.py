"""The composition of the handlers: one router tree, in the order updates must be tried, and the
`Workflows` registry through which one conversation opens another (bot/ui/workflows.py).

    quiz answers      the hot path (LEARN-2, 3, 5), tried first, its own cheap Registered() check
    errors, /cancel, /help and /lang
    registration      visitors only: Registered(False)
    registered        Registered() once, for everything below (and Shown(): a press's message as `message`)
      profile, /verify, /neworg
      admin           PendingAdminGate once (RNV-1): organisation, audit, members, imports, invites
      joining, certification, learning, special exams
      admin work      PendingAdminGate again (RNV-1): tasks, activities, manuscripts (members' parts too)
    fallback          what nobody handled
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiogram import Router

from bot.filters import Registered, Shown
from bot.flows import (
    activity_create,
    exam_create,
    exam_take,
    import_members,
    import_questions,
    join,
    manuscript_submit,
    member_edit,
    neworg,
    quiz,
    registration,
    report_settings,
    task_compose,
    verification,
)
from bot.flows import certify as certify_flow
from bot.handlers import (
    activities,
    audit,
    cancel,
    cert_links,
    certify,
    common,
    errors,
    exams,
    invite,
    learner,
    members,
    org,
    orgreport,
    profile,
    question_bank,
    review,
    tasks,
)
from bot.middlewares import Ctx
from bot.services import activities as activity_rules
from bot.services import certification, invites
from bot.ui.workflows import Workflows

if TYPE_CHECKING:
    from aiogram.types import Message


def build_routers() -> list[Router]:
    visitors = registration.build_router()
    finishing = registration.FINISHING  # a registration committed and killed before its reply (issue 16)
    visitors.message.filter(Registered(False, or_states=finishing))
    visitors.callback_query.filter(Registered(False, or_states=finishing), Shown())
    everyone = common.build_router()
    everyone.callback_query.filter(Shown())
    return [
        quiz.build_answer_router(),  # quiz button presses (LEARN-2, 3, 5): the hot path, tried first
        errors.build_router(),
        cancel.build_router(),
        everyone,  # /help, /lang
        visitors,  # visitors: everything else they send goes through registration
        build_registered_router(),
        common.build_fallback_router(),
    ]


def build_registered_router() -> Router:
    registered = Router(name="registered")
    registered.message.filter(Registered())
    registered.callback_query.filter(Registered(), Shown())  # callback handlers get `message: Message`
    registered.include_routers(
        profile.build_router(),
        verification.build_router(),
        neworg.build_router(),  # ORG-1, 2
        build_admin_router(),
        join.build_router(),  # joining (MEM-6)
        # certification (CERT, ORG-6, MEM-8)
        certify_flow.build_router(),
        certify.build_router(),
        cert_links.build_router(),
        # learning (LEARN-2..5, 7, 8)
        quiz.build_router(),
        learner.build_router(),
        # special exams (LEARN-6): taking, creating (roles and scope checked by the services), lists
        exam_take.build_router(),
        exam_create.build_router(),
        exams.build_router(),
        build_admin_work_router(),
    )
    return registered


def build_admin_router() -> Router:
    """The organisation's admin screens. Roles are checked per organisation by the services (SEC-4);
    here, once, an admin who has not verified yet is sent to /verify (handlers flagged `rnv`)."""
    admin = Router(name="admin")
    gate = verification.PendingAdminGate()
    admin.message.middleware(gate)
    admin.callback_query.middleware(gate)
    admin.include_routers(
        org.build_router(),  # ORG, with its branch and admin screens
        audit.build_router(),  # SEC-3
        member_edit.build_router(),  # MEM-1, 2
        import_questions.build_router(),  # before member import: a question file is told apart there
        question_bank.build_router(),
        import_members.build_router(),  # MEM-4
        members.build_router(),  # MEM-3, 5, 7
        invite.build_router(),  # MEM-6
        report_settings.build_router(),  # REP-5, 7, 8
        orgreport.build_router(),  # REP-2..4, 6, 8
    )
    return admin


def build_admin_work_router() -> Router:
    """Task notices, activities, manuscripts (WORK-1..3, LEARN-7): each service checks the role; the
    members' parts (confirming, /checkin, /manuscript) live here too. As in build_admin_router, an
    admin who has not verified yet is sent to /verify by the commands flagged `rnv` (/task,
    /activity, /review); other handlers pass the gate untouched."""
    work = Router(name="admin_work")
    gate = verification.PendingAdminGate()
    work.message.middleware(gate)
    work.callback_query.middleware(gate)
    work.include_routers(
        task_compose.build_router(),
        tasks.build_router(),
        activity_create.build_router(),
        activities.build_router(),
        manuscript_submit.build_router(),
        review.build_router(),
    )
    return work


# -- the registry --------------------------------------------------------------------------------
async def _members(message: Message, org_id: int, **data: Any) -> None:
    await members.send_list(message, data["store"], data["actor"], data["_"], org_id)


async def _template(message: Message, org_id: int, **data: Any) -> None:
    await members.send_template(message, data["store"], data["actor"], data["_"], org_id)


async def _export(message: Message, org_id: int, **data: Any) -> None:
    await members.send_export(message, data["store"], data["clock"], data["actor"], data["_"], org_id)


async def _import(message: Message, org_id: int, **data: Any) -> None:
    await import_members.ask_file(message, data["state"], data["store"], data["actor"], data["_"], org_id)


def _ctx(data: dict[str, Any]) -> Ctx:
    """The handlers' Ctx for a resumed command, with the actor as loaded after verification."""
    return Ctx(bot=data["bot"], store=data["store"], clock=data["clock"], settings=data["settings"],
               i18n=data["i18n"], outbox=data["outbox"], actor=data["actor"], locale=data["locale"], t=data["_"])


async def _task(message: Message, org_id: int, **data: Any) -> None:
    await task_compose.begin(message, data["state"], data["actor"], data["_"], org_id)


async def _activity(message: Message, org_id: int, **data: Any) -> None:
    await activities.open_list(message, data["state"], _ctx(data), data["_"], org_id)


async def _review(message: Message, **data: Any) -> None:
    await review.show_incoming(message, data["store"], data["actor"], data["_"])


async def _invite(message: Message, org_id: int, **data: Any) -> None:
    text, markup = await invite.first_step(data["store"], data["actor"], data["_"], org_id)
    await message.answer(text, reply_markup=markup)


def build_workflows() -> Workflows:
    return Workflows(
        openers={invites.PREFIX: join.open_join,  # MEM-6: j_<token>
                 certification.PREFIX: certify_flow.open_cert,  # CERT-2: c_<token>
                 activity_rules.PREFIX: activities.open_checkin},  # WORK-2: a_<token>, an activity's QR code
        resumes={"neworg": neworg.resume_neworg,  # ORG-1: creating an organisation
                 "become_admin": org.resume_become_admin},  # ORG-4: made an admin, the command they sent
        org_commands={"members": _members, "template": _template, "export": _export, "import": _import,
                      "invite": _invite, "task": _task, "activity": _activity},
        admin_commands={"review": _review},
    )
