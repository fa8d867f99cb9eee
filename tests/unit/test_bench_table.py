"""bench/run_all.py's table on made-up figures (no bench is run; nothing is timed)."""
from __future__ import annotations

from bench.run_all import Figure, build_rows, causes, parse_printed, table

FIGS = [
    Figure("sandbox_roundtrip", "ceiling: feed_update, trivial handler", 10000, "updates/s"),
    Figure("quiz_answers", "ceiling: trivial callback handler", 8000, "updates/s"),
    Figure("quiz_answers", "sustained, all users at once", 2000, "updates/s"),
    Figure("quiz_answers", "latency p99 at 300 updates/s", 25.0, "ms"),
    Figure("outbox", "pushes/s without faults", 24.0, "msg/s", "configured 25/s"),
    Figure("tree", "members under the root (max of 20)", 12.5, "ms"),
    Figure("load", "2000 members: member updates/s", 250.0, "updates/s"),
    Figure("load", "every answer counted, every push delivered once", 1, "ok"),
]


def row(rows, bench, start):
    return next(r for r in rows if r.bench == bench and r.figure.startswith(start))


def test_targets_pass_miss_and_ratios_from_the_same_run():
    rows = build_rows(FIGS, {"crash": "bench/crash.py is missing"})
    sustained = row(rows, "quiz_answers", "sustained")
    assert (sustained.target, sustained.measured, sustained.passed, sustained.ratio) == \
        (">= 1000 updates/s", "2,000 updates/s", "pass", "0.25 × ceiling")  # the quiz's own callback ceiling
    p99 = row(rows, "quiz_answers", "latency")
    assert (p99.target, p99.passed) == ("< 20 ms", "MISS")
    outbox = row(rows, "outbox", "pushes/s")
    assert (outbox.passed, outbox.ratio) == ("pass", "0.96 × configured")
    assert row(rows, "tree", "members").passed == "pass"
    load = row(rows, "load", "2000 members")
    assert (load.passed, load.ratio) == ("—", "0.03 × ceiling")  # the message-handler ceiling
    assert row(rows, "load", "every answer").measured == "yes"
    crash = row(rows, "crash", "—")
    assert (crash.passed, crash.note) == ("not run", "bench/crash.py is missing")


def test_missed_targets_and_missing_benches_are_named_in_the_notes_and_the_table():
    rows = build_rows(FIGS, {"crash": "bench/crash.py is missing"})
    notes = "\n".join(causes(rows, FIGS))
    assert "quiz_answers: latency p99 at 300 updates/s** measured 25 ms, target < 20 ms" in notes
    assert "10,000 updates/s this run" in notes  # the machine's speed that run
    assert "**crash** was not measured: bench/crash.py is missing" in notes
    text = table(rows)
    assert text.startswith("| bench | figure | target | measured | pass | ratio | note |")
    assert text.count("\n") == len(rows) + 2


def test_printed_kills_and_violations_are_summed_or_the_total_taken():
    printed = "registration: kills 12, violations 0\nquiz submit: 9 kills, 1 violations\n"
    assert [(f.figure, f.value) for f in parse_printed("crash", printed)] == [("kills", 21), ("violations", 1)]
    rows = build_rows(parse_printed("crash", printed), {})
    assert [(r.figure, r.passed) for r in rows if r.bench == "crash"] == [("kills", "MISS"), ("violations", "MISS")]
    assert [f.value for f in parse_printed("crash", printed + "total: kills 60, violations 0\n")] == [60, 0]


def test_render_writes_the_table_again_from_a_saved_run(tmp_path, capsys):
    import json

    from bench.run_all import main

    saved = tmp_path / "RESULTS.json"
    saved.write_text(json.dumps({
        "quick": False, "started": "2026-11-26T05:00:00+00:00", "total": 1500.0, "machine": "vm: 2 cores",
        "figures": [f.__dict__ for f in FIGS], "missing": {"crash": "bench/crash.py is missing"},
        "outputs": {"tree": ["members under the root: 12.5 ms", 30.0]}}), encoding="utf-8")
    out = tmp_path / "RESULTS.md"
    assert main(["--render", str(saved), "--out", str(out)]) == 1  # a target missed, a bench not run
    text = out.read_text(encoding="utf-8")
    assert "on 2026-11-26 05:00 UTC, vm: 2 cores; total time 25.0 min" in text
    assert "| quiz_answers | latency p99 at 300 updates/s | < 20 ms | 25 ms | MISS |" in text
    assert "<details><summary>tree (30 s)</summary>" in text
    assert "| tree | members under the root (max of 20) |" in capsys.readouterr().out
