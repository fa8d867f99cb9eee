"""What a bench measured, as data for bench/run_all.py (beside what the bench prints for people).

    from bench.figures import quick, record
    record("tree", "subtree of the root", 8.6, "ms")

`record` appends one JSON line {"bench", "figure", "value", "unit", "note"} to the file named by the
environment variable BENCH_FIGURES, which bench/run_all.py sets for each bench it starts; run alone, a
bench records nothing. `quick()` is true when run_all was started with --quick (BENCH_QUICK=1): the
benches without size arguments then build smaller data (a smoke run, not the targets' sizes).
"""
from __future__ import annotations

import json
import os


def record(bench: str, figure: str, value: float | int | None, unit: str, note: str = "") -> None:
    path = os.environ.get("BENCH_FIGURES")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"bench": bench, "figure": figure, "value": value, "unit": unit, "note": note},
                           ensure_ascii=False) + "\n")


def quick() -> bool:
    return os.environ.get("BENCH_QUICK") == "1"
