"""LEARN-6 item statistics against a small example worked out by hand.

Four people, three questions (1 = right):
    P1: 1 1 1  total 3
    P2: 1 1 0  total 2
    P3: 1 0 0  total 1
    P4: 0 0 0  total 0
Facility: Q1 3/4 = 0.75, Q2 2/4 = 0.5, Q3 1/4 = 0.25.
Totals 3, 2, 1, 0: mean 1.5, median 1.5, sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3,
SD = sqrt(5/3) = 1.290994.
Item sample variances: Q1 0.75/3 = 0.25, Q2 1/3, Q3 0.75/3 = 0.25; sum 0.833333.
Cronbach's alpha = 3/2 * (1 - 0.833333 / 1.666667) = 0.75.
Discrimination (item vs the rest of the exam):
    Q1 item (1,1,1,0) rest (2,1,0,0): cov-sum 0.75, SS 0.75 and 2.75 -> 0.75 / sqrt(2.0625) = 0.522233
    Q2 item (1,1,0,0) rest (2,1,1,0): cov-sum 1, SS 1 and 2 -> 1 / sqrt(2) = 0.707107
    Q3 item (1,0,0,0) rest (2,2,1,0): cov-sum 0.75, SS 0.75 and 2.75 -> 0.522233
A fourth question only P4 gets right, (0,0,0,1) against rest (3,2,1,0): cov-sum -1.5, SS 0.75 and 5
-> -1.5 / sqrt(3.75) = -0.774597: negative discrimination, listed first.
"""
from __future__ import annotations

import pytest

from bot.services.exam_stats import analyse, cronbach_alpha, distribution, median

MATRIX = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]]


def test_learn_6_item_statistics_match_the_hand_computed_example():
    stats = analyse(MATRIX, 3)
    assert stats.people == 4
    assert stats.mean == pytest.approx(1.5)
    assert stats.median == pytest.approx(1.5)
    assert stats.sd == pytest.approx(1.290994, abs=1e-6)
    assert stats.alpha == pytest.approx(0.75)
    by_pos = {s.position: s for s in stats.items}
    assert [by_pos[i].facility for i in range(3)] == pytest.approx([0.75, 0.5, 0.25])
    assert by_pos[0].discrimination == pytest.approx(0.522233, abs=1e-6)
    assert by_pos[1].discrimination == pytest.approx(0.707107, abs=1e-6)
    assert by_pos[2].discrimination == pytest.approx(0.522233, abs=1e-6)
    assert by_pos[2].flag is None and by_pos[0].flag is None  # 0.25 is hard, not very hard (<= 0.2)


def test_learn_6_negative_discrimination_is_listed_first():
    matrix = [row + [b] for row, b in zip(MATRIX, [0, 0, 0, 1])]
    stats = analyse(matrix, 4)
    first = stats.items[0]
    assert first.position == 3 and first.flag == "negative"
    assert first.discrimination == pytest.approx(-0.774597, abs=1e-6)


def test_learn_6_very_easy_and_very_hard_flags_and_degenerate_cases():
    matrix = [[1, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 0], [1, 1, 1]]
    stats = analyse(matrix, 3)
    flags = {s.position: s.flag for s in stats.items}
    assert flags[0] == "very_easy" and flags[1] == "very_hard"
    assert stats.items[0].position == 1  # very hard before very easy
    assert stats.items[-1].discrimination is not None
    assert analyse([[1, 0]], 2).sd is None and cronbach_alpha([[1, 0]]) is None
    assert median([3, 1, 2, 10]) == 2.5


def test_learn_6_distribution_bands_cover_every_score_once():
    bands = distribution([0, 1, 5, 10, 10, 7], 10, bands=5)
    assert bands == [(0, 1, 2), (2, 3, 0), (4, 5, 1), (6, 7, 1), (8, 10, 2)]
    assert distribution([0, 3, 3], 4) == [(0, 0, 1), (1, 1, 0), (2, 2, 0), (3, 3, 2), (4, 4, 0)]
