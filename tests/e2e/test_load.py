"""Issue #16's load test, the short version (bench/load.py is the long one, 2,000 members): 100 members
take the daily quiz over the sandbox at once while a task notice goes to all 100 through the /task flow
and the daily report's slot falls due for 30 recipients. Asserted: every answer counted (answered items,
submitted rounds, the points ledger), every push delivered exactly once, every member got the quiz's
reply after 交卷. Not timings: those are bench/load.py's figures."""
from __future__ import annotations

from tests.support.load import DAILY, Plan, run


def test_load_short_every_answer_counted_every_push_once(tmp_path):
    plan = Plan(members=100, recipients=30, spread=10.0, think=1.0, deadline=240.0)  # Telegram: 1 message/s per chat
    result = run(tmp_path, plan)
    assert result.problems == [], "\n".join(result.lines())
    assert result.counts["answers"] == 100 * DAILY and result.counts["rounds submitted"] == 100
    assert result.counts["daily points"] == 100 * DAILY
    assert result.counts["task notices"] == 100 and result.counts["reports"] == 30
    assert result.counts["outbox"] == {"sent": 130}
    assert len(result.latencies) >= 100 * (DAILY + 2)  # /quiz, five answers, 交卷: every reply timed
