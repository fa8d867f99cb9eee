"""Counts how tests press buttons: by label on the message that carried them, or with callback data.

    .venv/bin/python -m tests.support.count_presses [dirs...]   (default: tests/handlers tests/e2e tests/sandbox)

A `.click(` is callback data handed in directly (packed by hand, or lifted from a Sent with `.button(`);
`.press(` / `.press_latest(` find the button by its label; a sandbox `/press` POST with "data" is packed.
Lines marked `# forged:` or `# stale:` are the clicks meant to send data no real button carries now."""
from __future__ import annotations

import re
import sys
from pathlib import Path

PATTERNS = {
    "press by label": re.compile(r"\.press(_latest)?\("),
    "click, data from sent.button()": re.compile(r"\.click\([^\n]*\.button\("),
    "click, data packed": re.compile(r"\.click\((?![^\n]*\.button\()"),
    "sandbox /press with data": re.compile(r"/press\",\s*\{[^}]*\"data\""),
}
MARKED = re.compile(r"# (forged|stale):")
CLICKS = ("click, data from sent.button()", "click, data packed", "sandbox /press with data")


def count(paths: list[Path]) -> dict[str, int]:
    totals = dict.fromkeys([*PATTERNS, "clicks marked forged/stale", "clicks unmarked",
                            "presses marked stale (a real message's old state)"], 0)
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for line in file.read_text().splitlines():
                hits = {name: len(pattern.findall(line)) for name, pattern in PATTERNS.items()}
                for name, n in hits.items():
                    totals[name] += n
                clicks = sum(hits[name] for name in CLICKS)
                marked = bool(MARKED.search(line))
                totals["clicks marked forged/stale" if marked else "clicks unmarked"] += clicks
                if marked:
                    totals["presses marked stale (a real message's old state)"] += hits["press by label"]
    return totals


if __name__ == "__main__":
    dirs = [Path(a) for a in sys.argv[1:]] or [Path("tests/handlers"), Path("tests/e2e"), Path("tests/sandbox")]
    for d in dirs:
        print(d)
        for name, n in count([d]).items():
            print(f"    {name}: {n}")
