"""docs/requirements.md explains every requirement id the code cites, and each one once.

The code cites an id as `AREA-n` in comments, docstrings and locale comments, and in test names as
`test_area_n_…` (the first number only: `test_org_1_17_…` checks ORG-1 on the FAQ's question 17).
Each explained id is one list entry of the page, `- **AREA-n** — …`; those under "Not cited in code
yet" must stay uncited, and the files the page names as code and tests must exist."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "requirements.md"
TREES = ("bot", "tests", "bench", "locales", "README.md")

ID = re.compile(r"\b([A-Z]{2,8})-([0-9]{1,2})\b")
# Words of the same shape that are not requirement ids: encodings (UTF-8, UTF-16), the first bytes
# of a PDF file, standards (ISO-…). A new false hit goes here; a new requirement goes into the page.
NOT_IDS = frozenset({"UTF", "PDF", "ISO"})
TEST_NAME = re.compile(r"\bdef test_([a-z]+)_([0-9]{1,2})_")
ENTRY = re.compile(r"^- \*\*([A-Z]{2,8}-[0-9]{1,2})\*\*", re.MULTILINE)
NOT_CITED_HEADING = "## Not cited in code yet"
PATH = re.compile(r"`((?:bot|tests|bench|locales)/[\w/.-]+\.\w+)`")


def ids_in(text: str, areas: frozenset[str]) -> set[str]:
    """The requirement ids `text` cites: `AREA-n` (not a NOT_IDS word), and test names of `areas`."""
    found = {f"{area}-{int(n)}" for area, n in ID.findall(text) if area not in NOT_IDS}
    found |= {f"{area.upper()}-{int(n)}" for area, n in TEST_NAME.findall(text) if area.upper() in areas}
    return found


def source_texts() -> Iterator[tuple[str, str]]:
    """(path, text) of every text file of the trees the ids are looked for in."""
    for tree in TREES:
        top = ROOT / tree
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            rel = path.relative_to(ROOT)
            if not path.is_file() or any(p == "__pycache__" or p.startswith(".") for p in rel.parts):
                continue
            data = path.read_bytes()
            if b"\0" in data:
                continue  # a font, a picture
            try:
                yield rel.as_posix(), data.decode("utf-8")
            except UnicodeDecodeError:
                continue


def explained(doc: str) -> list[str]:
    return ENTRY.findall(doc)


def cited(areas: frozenset[str]) -> dict[str, list[str]]:
    """Each cited id with the files that cite it."""
    where: dict[str, list[str]] = {}
    for path, text in source_texts():
        for rid in ids_in(text, areas):
            where.setdefault(rid, []).append(path)
    return where


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _areas(doc: str) -> frozenset[str]:
    return frozenset(rid.split("-")[0] for rid in explained(doc))


def test_ids_are_found_as_the_code_writes_them() -> None:
    areas = frozenset({"SEC", "CERT", "LEARN", "ORG"})
    text = ('"""SEC-4: checked again (REP-1..8, UTF-8, %PDF-1.4)."""\n'
            "def test_cert_2_3_apply(): ...\nasync def test_learn_6_deadline(): ...\ndef test_org_1_17_x(): ...\n"
            "def test_issue13_x(): ...\ndef test_migration_7_x(): ...\n")
    assert ids_in(text, areas) == {"SEC-4", "REP-1", "CERT-2", "LEARN-6", "ORG-1"}


def test_every_id_the_code_cites_is_explained() -> None:
    doc = _doc()
    where = cited(_areas(doc))
    assert len(where) > 40, f"the scan found only {sorted(where)}: is it still looking in {TREES}?"
    missing = {rid: paths[:3] for rid, paths in sorted(where.items()) if rid not in set(explained(doc))}
    assert not missing, (
        f"cited but not explained in docs/requirements.md (add an entry, or a false hit to NOT_IDS): {missing}")


def test_no_id_is_explained_twice() -> None:
    twice = sorted(rid for rid, n in Counter(explained(_doc())).items() if n > 1)
    assert not twice, f"explained more than once in docs/requirements.md: {twice}"


def test_ids_listed_as_not_cited_are_not_cited() -> None:
    doc = _doc()
    assert NOT_CITED_HEADING in doc
    not_cited = set(explained(doc.split(NOT_CITED_HEADING, 1)[1]))
    where = cited(_areas(doc))
    now_cited = {rid: where[rid][:3] for rid in sorted(not_cited & where.keys())}
    assert not now_cited, f"cited now: move them up into their area with their code and tests: {now_cited}"


def test_files_the_page_names_exist() -> None:
    named = set(PATH.findall(_doc()))
    assert named
    gone = sorted(p for p in named if not (ROOT / p).is_file())
    assert not gone, f"docs/requirements.md names files that are not there: {gone}"
