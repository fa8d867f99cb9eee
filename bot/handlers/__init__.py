"""Gathers the routers in the order they must be tried: /cancel first, catch-alls last."""
from __future__ import annotations

from aiogram import Router

from bot.flows import certify as certify_flow
from bot.flows import (
    exam_create,
    exam_take,
    import_members,
    import_questions,
    join,
    member_edit,
    neworg,
    quiz,
    registration,
    verification,
)
from bot.handlers import (
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
    profile,
    question_bank,
)


def build_routers() -> list[Router]:
    return [
        quiz.build_answer_router(),  # quiz button presses (LEARN-2, 3, 5): the hot path, tried first
        errors.build_router(),
        cancel.build_router(),
        common.build_router(),
        registration.build_router(),  # visitors: everything else they send goes through registration
        profile.build_router(),
        verification.build_router(),
        # organisations (ORG), audit (SEC-3)
        neworg.build_router(),
        org.build_router(),
        audit.build_router(),
        # members (MEM-1..5, 7)
        member_edit.build_router(),
        import_questions.build_router(),  # before member import: a question file is told apart there
        question_bank.build_router(),
        import_members.build_router(),
        members.build_router(),
        # invitations and joining (MEM-6)
        join.build_router(),
        invite.build_router(),
        # certification (CERT, ORG-6, MEM-8)
        certify_flow.build_router(),
        certify.build_router(),
        cert_links.build_router(),
        # learning (LEARN-2..5, 7, 8)
        quiz.build_router(),
        learner.build_router(),
        # special exams (LEARN-6)
        exam_take.build_router(),
        exam_create.build_router(),
        exams.build_router(),
        common.build_fallback_router(),
    ]
