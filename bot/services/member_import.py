"""MEM-4: batch import from the .xlsx template.

A file is read safely (bot/render/excel.py), every row checked, and all valid rows whose
branch exists are written in one transaction (all or nothing) with one executemany and one
activation UPDATE. Rows already in the organisation count as "already present", so the same
file imported twice adds nothing. Rows refused only because their branch does not exist are
returned apart, so the admin may create those branches and import them (`import_rows`).
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.errors import DomainError
from bot.render import excel
from bot.render.excel import MemberRow, RawRow, RowProblem, SheetError
from bot.services.roles import Actor
from bot.services.text import clean_text
from bot.store import Conflict, Store

BRANCH_NAME_MAX = 50


@dataclass(frozen=True)
class NameMismatch:
    """A row whose phone the organisation lists under another name: neither added nor counted as
    present; the admin keeps the listed name or takes the file's."""

    row: MemberRow
    member_id: int
    listed_name: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    present: int
    rejected: list[tuple[RawRow, RowProblem]]  # in file order, unknown-branch rows included
    pending: list[MemberRow] = field(default_factory=list)  # rejected only for their branch
    new_branches: list[str] = field(default_factory=list)  # the branches `pending` would need
    created: list[str] = field(default_factory=list)
    sheet: str = ""
    ignored_sheets: list[str] = field(default_factory=list)
    mismatched: list[NameMismatch] = field(default_factory=list)  # in file order


def _norm(name: str) -> str:
    return clean_text(name).casefold()


def _raw(row: MemberRow) -> RawRow:
    return RawRow(row.row_number, row.name, row.phone, row.branch, row.note)


async def parse_file(data: bytes, known_labels: Iterable[Mapping[str, str]] = ()) -> excel.ParsedSheet:
    """Reads the upload off the event loop; a file that cannot be imported raises
    DomainError("mem.sheet.<code>") (missing columns: `columns` holds field names)."""
    labels = list(known_labels)
    try:
        return await asyncio.to_thread(excel.read_member_rows, data, known_labels=labels)
    except SheetError as exc:
        key = f"not_xlsx_{exc.params.get('kind', 'other')}" if exc.code == "not_xlsx" else exc.code
        params = {k: v for k, v in exc.params.items() if k in ("limit", "columns", "count")}
        if exc.code == "too_large":
            params = {"limit": exc.params["limit"] // (1024 * 1024)}
        raise DomainError(f"mem.sheet.{key}", **params) from None


async def import_file(store: Store, clock: Clock, actor: Actor, org_id: int, data: bytes,
                      known_labels: Iterable[Mapping[str, str]] = ()) -> ImportResult:
    actor.require_admin_of(org_id)
    return await import_sheet(store, clock, actor, org_id, await parse_file(data, known_labels))


async def import_sheet(store: Store, clock: Clock, actor: Actor, org_id: int,
                       parsed: excel.ParsedSheet) -> ImportResult:
    """The rows of a sheet parse_file read (parsing outside a caller's transaction: it takes time)."""
    result = await import_parsed(store, clock, actor, org_id, parsed.rows)
    return ImportResult(result.added, result.present, result.rejected, result.pending, result.new_branches,
                        [], parsed.sheet, parsed.ignored_sheets, result.mismatched)


async def import_parsed(store: Store, clock: Clock, actor: Actor, org_id: int,
                        rows: list[RawRow]) -> ImportResult:
    actor.require_admin_of(org_id)
    rows = [row._replace(name=clean_text(row.name), branch=clean_text(row.branch), note=clean_text(row.note))
            for row in rows]
    valid, rejected = excel.validate_rows(rows, None)  # every rule but the branch's existence
    existing = {_norm(r.name): r.name for r in await store.member_branches(org_id)}
    listed = await store.listed_names(org_id)
    ready: list[MemberRow] = []
    pending: list[MemberRow] = []
    mismatched: list[NameMismatch] = []
    new_branches: dict[str, str] = {}
    for row in valid:
        member = listed.get(row.phone)
        if member is not None and _norm(member[1]) != _norm(row.name):  # not "already there": another name
            mismatched.append(NameMismatch(row, member[0], member[1]))
            continue
        known = existing.get(_norm(row.branch))
        if known is not None:
            ready.append(MemberRow(row.row_number, row.name, row.phone, known, row.note))
            continue
        problem = RowProblem("unknown_branch", {"branch": row.branch})
        rejected.append((_raw(row), problem))
        if len(row.branch) <= BRANCH_NAME_MAX:
            spelled = new_branches.setdefault(_norm(row.branch), row.branch)
            pending.append(MemberRow(row.row_number, row.name, row.phone, spelled, row.note))
    rejected.sort(key=lambda pair: pair[0].row_number)
    added, present, _ = await _write(store, clock, actor, org_id, ready, [])
    return ImportResult(added, present, rejected, pending, list(new_branches.values()), mismatched=mismatched)


async def resolve_names(store: Store, clock: Clock, actor: Actor, org_id: int,
                        changes: list[tuple[int, str, str]], update: bool) -> int:
    """The admin's choice for the rows listed under another name (keep, or take the file's name);
    audited either way. Returns how many members were renamed (a member renamed meanwhile is left)."""
    actor.require_admin_of(org_id)
    return await store.resolve_import_names(actor.id, org_id, changes, update, clock.now().isoformat())


def mismatches_to_data(mismatched: list[NameMismatch]) -> list[list[Any]]:
    return [[m.member_id, m.listed_name, m.row.name] for m in mismatched]


def mismatches_from_data(data: list[list[Any]]) -> list[tuple[int, str, str]]:
    return [(int(member_id), str(listed), str(name)) for member_id, listed, name in data]


async def import_rows(store: Store, clock: Clock, actor: Actor, org_id: int, rows: list[MemberRow],
                      branch_names: list[str]) -> ImportResult:
    """The rows kept from an import whose branches were missing: creates the branches that
    still do not exist and imports the rows, in one transaction."""
    actor.require_admin_of(org_id)
    existing = {_norm(r.name): r.name for r in await store.member_branches(org_id)}
    spelled = {_norm(n): existing.get(_norm(n), n) for n in branch_names}
    fixed = [MemberRow(r.row_number, r.name, r.phone, spelled.get(_norm(r.branch), r.branch), r.note) for r in rows]
    creating = [n for key, n in spelled.items() if key not in existing]
    added, present, created = await _write(store, clock, actor, org_id, fixed, creating)
    return ImportResult(added, present, [], created=created)


async def _write(store: Store, clock: Clock, actor: Actor, org_id: int, rows: list[MemberRow],
                 new_branches: list[str]) -> tuple[int, int, list[str]]:
    if not rows and not new_branches:
        return 0, 0, []
    try:
        return await store.import_members(actor.id, org_id, [(r.name, r.phone, r.branch, r.note) for r in rows],
                                          new_branches, clock.now().isoformat())
    except Conflict:
        raise DomainError("mem.branch_gone") from None


def pending_to_data(rows: list[MemberRow]) -> list[list[Any]]:
    """What the flow keeps between the summary and the "create branches" button (no file)."""
    return [[r.row_number, r.name, r.phone, r.branch, r.note] for r in rows]


def pending_from_data(data: list[list[Any]]) -> list[MemberRow]:
    return [MemberRow(int(n), str(name), str(phone), str(branch), str(note)) for n, name, phone, branch, note in data]
