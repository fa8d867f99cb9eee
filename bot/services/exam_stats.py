"""Item statistics of an exam as in Moodle's quiz statistics (LEARN-6), from first attempts only.

Pure functions over a score matrix: one row per person (their first submitted attempt), one column
per question, 1 for a right answer and 0 otherwise.
- facility index: the mean score on the question (share who got it right);
- discrimination index: the correlation between the question's score and the score on the rest of
  the exam (the total without that question), so a question does not correlate with itself;
- for the exam: mean, median, standard deviation (sample, n - 1) of the totals, and Cronbach's
  alpha = k / (k - 1) * (1 - sum of the item variances / variance of the totals).
The questions that most need a look come first: negative discrimination, very hard, very easy.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

VERY_EASY = 0.9   # facility at or above: nearly everybody gets it right
VERY_HARD = 0.2   # facility at or below: nearly nobody does


@dataclass(frozen=True, slots=True)
class ItemStats:
    position: int              # the question's place in the exam (0-based)
    facility: float
    discrimination: float | None  # None when the item or the rest does not vary
    flag: str | None           # "negative" | "very_hard" | "very_easy" | None


@dataclass(frozen=True, slots=True)
class ExamStats:
    people: int
    mean: float
    median: float
    sd: float | None           # None below two people
    alpha: float | None        # None below two people or two questions, or when totals do not vary
    items: list[ItemStats]     # the ones needing a look first


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def median(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def sample_variance(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None when either side does not vary."""
    if len(xs) < 2:
        return None
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def cronbach_alpha(matrix: Sequence[Sequence[float]]) -> float | None:
    if len(matrix) < 2 or len(matrix[0]) < 2:
        return None
    k = len(matrix[0])
    totals = [sum(row) for row in matrix]
    total_var = sample_variance(totals)
    if not total_var:
        return None
    item_vars = [sample_variance([row[i] for row in matrix]) or 0.0 for i in range(k)]
    return k / (k - 1) * (1 - sum(item_vars) / total_var)


def _flag(facility: float, discrimination: float | None) -> str | None:
    if discrimination is not None and discrimination < 0:
        return "negative"
    if facility <= VERY_HARD:
        return "very_hard"
    if facility >= VERY_EASY:
        return "very_easy"
    return None


_ORDER = {"negative": 0, "very_hard": 1, "very_easy": 2, None: 3}


def analyse(matrix: Sequence[Sequence[float]], questions: int) -> ExamStats:
    """`matrix`: one row of `questions` scores (0/1) per person's first attempt."""
    totals = [float(sum(row)) for row in matrix]
    items = []
    for i in range(questions):
        column = [float(row[i]) for row in matrix]
        rest = [t - c for t, c in zip(totals, column)]
        facility = mean(column)
        disc = correlation(column, rest)
        items.append(ItemStats(i, facility, disc, _flag(facility, disc)))
    items.sort(key=lambda s: (_ORDER[s.flag], s.position))
    variance = sample_variance(totals)
    return ExamStats(len(matrix), mean(totals), median(totals), math.sqrt(variance) if variance is not None else None,
                     cronbach_alpha(matrix), items)


def distribution(scores: Sequence[int], maximum: int, bands: int = 5) -> list[tuple[int, int, int]]:
    """(low, high, how many) per band of the scores 0..maximum, lowest first: one band per score up to
    ten possible scores, else `bands` bands of (nearly) equal width."""
    size = max(maximum, 0) + 1
    count = size if size <= 10 else max(1, bands)
    out = []
    for b in range(count):
        low, high = b * size // count, (b + 1) * size // count - 1
        out.append((low, high, sum(1 for s in scores if low <= s <= high)))
    return out
