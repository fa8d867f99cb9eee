"""Issue 16, fuzzing: .xlsx uploads into every place that takes one (the member import, the question
import, an exam's question sheet; any state an upload is asked for is listed in UPLOADS).

The templates are the bot's own (/template, /template questions), fetched as an admin fetches them.
- Hostile files (truncated, corrupted, random bytes, xls/pdf/png/csv named .xlsx, zips that are not
  workbooks, too many parts, a declared 4 GB part, a real zip bomb, a sheet over the row limit, a sheet
  claiming a million rows): a specific message, no table gains or loses a row.
- Random cells and formula-looking text in the template: a specific answer, and the same file sent
  again adds nothing (MEM-4: "importing the same file twice adds nothing"), so nothing was half-done.
- Whatever was imported is exported again without a formula cell (/export)."""
from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from aiogram.methods import SendDocument
from hypothesis import given
from hypothesis import strategies as st

from bot.render.excel import MAX_ROWS as MEMBER_ROWS
from bot.render.question_sheet import MAX_ROWS as QUESTION_ROWS
from tests.fuzz.harness import LONG_RUN, Env, fuzz_settings, run_env
from tests.fuzz.test_text_into_states import ROUTES, all_states, reach
from tests.fuzz.world import World
from tests.fuzz.xlsx_files import claims_a_million_rows, fill, hostile, over_the_row_limit, rows

# state -> the template command whose layout it takes
UPLOADS = {"ImportMembers:file": "/template", "ImportQuestions:file": "/template questions",
           "ExamCreate:sheet": "/template questions"}


def test_every_upload_state_is_fuzzed():
    """A state whose name says it waits for a file is fuzzed here too."""
    waiting = {s for s in all_states() if s.rsplit(":", 1)[1] in {"file", "sheet", "upload"}}
    assert waiting == set(UPLOADS), f"upload states not fuzzed: {waiting - set(UPLOADS)}"


async def template(world: World, command: str) -> bytes:
    sent = await world.client("admin").send(command)
    docs = sent.of(SendDocument)
    assert docs, f"{command} sent no file: {sent.text[:200]!r}"
    return docs[0].document.data


class Upload:
    def __init__(self, world: World, target: str) -> None:
        self.world, self.target = world, target
        self.env = world.env
        self.number = 0

    async def saved(self) -> None:
        fsm = self.env.fsm(self.world.client())
        self.state = (await fsm.get_state(), await fsm.get_data())

    async def send(self, data: bytes, what: str) -> dict[str, int]:
        """Puts the flow back at the upload step, sends `data` as a .xlsx; returns the row counts before."""
        env, client = self.env, self.world.client()
        fsm = env.fsm(client)
        await fsm.set_state(self.state[0])
        await fsm.set_data(self.state[1])
        before = await env.counts()
        self.number += 1
        with env.watching():
            sent = await client.document(data, "名单.xlsx", file_id=f"up{self.number}")
            problems = env.problems(sent)
        assert not problems, f"{self.target} <- {what} ({len(data)} bytes): {problems}"
        assert sent.texts, f"{self.target} <- {what}: the bot did not answer"
        return before

    async def refused(self, data: bytes, what: str) -> None:
        before = await self.send(data, what)
        after = await self.env.counts()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, f"{self.target} <- {what}: refused, but rows changed: {changed}"

    async def twice(self, data: bytes, what: str) -> None:
        await self.send(data, what)
        before = await self.send(data, what + ", again")
        after = await self.env.counts()
        changed = {t: (before[t], after[t]) for t in ("members", "branches", "questions")
                   if before[t] != after[t]}
        assert not changed, f"{self.target} <- {what}: the same file a second time changed {changed}"


async def no_formula_in_export(world: World) -> None:
    sent = await world.client("admin").send("/export")
    docs = sent.of(SendDocument)
    assert docs, f"/export sent no file: {sent.text[:200]!r}"
    book = openpyxl.load_workbook(io.BytesIO(docs[0].document.data))
    formulas = [f"{s.title}!{c.coordinate}={c.value!r}" for s in book.worksheets for row in s.iter_rows()
                for c in row if c.data_type == "f" or (isinstance(c.value, str) and c.value[:1] in "=+-@")]
    assert not formulas, f"the export holds formulas: {formulas[:5]}"


@pytest.mark.parametrize("target", sorted(UPLOADS))
def test_hostile_files_are_refused_and_import_nothing(target: str, tmp_path: Path) -> None:
    def body(env: Env) -> None:
        world = World(env)
        env.run(reach(world, target))
        upload = Upload(world, target)
        env.run(upload.saved())
        sheet = env.run(template(world, UPLOADS[target]))
        env.run(upload.refused(claims_a_million_rows(sheet), "a sheet claiming a million rows (and empty)"))

        @fuzz_settings()
        @given(file=hostile(sheet))
        def one(file: tuple[str, bytes]) -> None:
            env.run(upload.refused(file[1], file[0]))

        one()

    run_env(tmp_path, body)


@pytest.mark.parametrize("target", sorted(UPLOADS))
def test_random_cells_and_formulas_import_once(target: str, tmp_path: Path) -> None:
    def body(env: Env) -> None:
        world = World(env)
        env.run(reach(world, target))
        upload = Upload(world, target)
        env.run(upload.saved())
        sheet = env.run(template(world, UPLOADS[target]))

        @fuzz_settings()
        @given(new_rows=rows, as_formulas=st.booleans())
        def one(new_rows: list, as_formulas: bool) -> None:
            env.run(upload.twice(fill(sheet, new_rows, as_formulas), f"{new_rows!r}"[:300]))

        one()
        env.run(no_formula_in_export(world))

    run_env(tmp_path, body)


# The question sheet's limit (10,000 rows) in every run; the member sheet's (60,000) in long runs only,
# where reading it takes openpyxl several seconds.
OVER_THE_LIMIT = [("ImportQuestions:file", QUESTION_ROWS)] + ([("ImportMembers:file", MEMBER_ROWS)] if LONG_RUN else [])


@pytest.mark.parametrize("target,limit", OVER_THE_LIMIT)
def test_a_sheet_over_the_row_limit_imports_nothing(target: str, limit: int, tmp_path: Path) -> None:
    def body(env: Env) -> None:
        world = World(env)
        env.run(reach(world, target))
        upload = Upload(world, target)
        env.run(upload.saved())
        sheet = env.run(template(world, UPLOADS[target]))
        env.run(upload.refused(over_the_row_limit(sheet, limit), f"a sheet of {limit + 1} rows"))
        shown = world.client().window[-1].text or ""
        assert f"{limit:,}" in shown or str(limit) in shown, f"not the row limit's message: {shown!r}"

    run_env(tmp_path, body)


assert set(UPLOADS) <= set(ROUTES)
