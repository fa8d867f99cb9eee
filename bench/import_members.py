"""Member import and export figures (MEM-4, MEM-5). Prints figures; not run by CI.

    .venv/bin/python -m bench.import_members

Builds .xlsx files of 10,000 and 50,000 rows (not timed), runs the real import service
(bot/services/member_import.import_file: safe reading, checks, one transaction with
executemany, one activation UPDATE) against a fresh store in a temporary folder, and the
real export (bot/services/members.export + render/excel.members_export) of 50,000 members
with a points ledger. Targets: 10,000 rows < 5 s, 50,000 rows < 25 s, export of 50,000 < 10 s.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import quick, record
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import I18n
from bot.middlewares import load_actor
from bot.render import excel
from bot.services import member_import, members
from bot.store import Store
from tests.support.factories import make_org, make_user

ADMIN = 1
BRANCHES = [f"第{i}支部" for i in range(1, 21)]
TARGETS = {"import 10000": 5.0, "import 50000": 25.0, "export 50000": 10.0}


def build_xlsx(n: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("成员")
    sheet.append(["姓名*", "手机号*", "所属支部*", "备注"])
    for i in range(n):
        sheet.append([f"成员{i:05d}", f"139{i:08d}", BRANCHES[i % len(BRANCHES)], "备注" if i % 7 == 0 else None])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


async def fresh(folder: Path, name: str) -> tuple[Store, object, int]:
    store = await Store.open(folder / f"{name}.sqlite3")
    await make_user(store, ADMIN, "管理员", verified=True)
    org = await make_org(store, "基准测试组织", ADMIN, branches=BRANCHES)
    # every tenth phone belongs to a registered user (activation is computed on import)
    async with store._tx() as db:
        await db.executemany(
            "INSERT INTO users (id, first_name, phone, name, registered_at, created_at, updated_at) "
            "VALUES (?, 'u', ?, 'u', 'now', 'now', 'now')",
            [(1000 + i, f"+86139{i:08d}") for i in range(0, 50_000, 10)])
    settings = Settings(bot_token=None, database_path=folder / "x", timezone=ZoneInfo("Asia/Shanghai"),
                        operator_ids=frozenset(), secret_key=b"bench", data_dir=folder)
    actor = await load_actor(store, settings, await store.get_user(ADMIN))
    return store, actor, org


def verdict(name: str, seconds: float, rows: int) -> str:
    """PASS/FAIL against the target of the full size (a --quick run of run_all is 10 times smaller)."""
    target = TARGETS.get(name) or TARGETS[name.replace("00", "000", 1)] / 10
    ok = seconds < target
    return (f"{name:>14}: {seconds:6.2f} s  {rows / seconds:9,.0f} rows/s  target < {target:g} s  "
            f"{'PASS' if ok else 'FAIL'}")


async def main() -> int:
    i18n = I18n()
    labels = [excel.labels_from(lambda k, lang=lang: i18n.t(lang, k)) for lang in i18n.languages]
    clock = Clock(ZoneInfo("Asia/Shanghai"))
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sizes = (10_000, 50_000) if not quick() else (1_000, 5_000)
        for n in sizes:
            data = build_xlsx(n)
            store, actor, org = await fresh(folder, f"import{n}")
            started = time.perf_counter()
            result = await member_import.import_file(store, clock, actor, org, data, labels)
            seconds = time.perf_counter() - started
            assert result.added == n and not result.rejected, (result.added, len(result.rejected))
            line = verdict(f"import {n}", seconds, n)
            print(line + f"  ({len(data) / 1e6:.1f} MB file)")
            failed |= line.endswith("FAIL")
            record("import_members", f"import {n:,} rows", round(seconds, 2), "s", f"{n / seconds:,.0f} rows/s")
            if n == sizes[-1]:
                async with store._tx() as db:  # 10 ledger rows for each registered member
                    await db.executemany(
                        "INSERT INTO points (user_id, amount, source, day, idem_key, created_at) "
                        "VALUES (?, 1, 'quiz', ?, ?, 'now')",
                        [(1000 + i, f"2026-11-{10 + d:02d}", f"{i}-{d}") for i in range(0, 50_000, 10)
                         for d in range(10)])
                started = time.perf_counter()
                exported = await members.export(store, clock, actor, org)
                book = excel.members_export(labels[0], exported.rows)
                seconds = time.perf_counter() - started
                line = verdict(f"export {n}", seconds, len(exported.rows))
                record("import_members", f"export {len(exported.rows):,} members", round(seconds, 2), "s")
                print(line + f"  ({len(book) / 1e6:.1f} MB file)")
                failed |= line.endswith("FAIL")
            await store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
