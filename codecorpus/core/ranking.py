"""RRTF ranking and preference pairs (PanGu-Coder2), shared by the ``sql`` and ``instruct`` jobs.

Candidates are responses to one prompt with an execution score (higher is better: for code,
compile error < runtime error < passes some tests < passes all; for SQL, parse error < runtime
error < disagreeing result < agreeing on the database only < consensus
on every test-suite database). ``rank`` orders them best first; on equal scores a
teacher's response is ranked above a student's (PanGu-Coder2 ranks the teacher higher on ties),
then the order they were generated in.

``preference_pairs`` pairs the chosen (the best, unless given) with every distinct lower-scored
response, worst first, at most ``max_pairs``. A pair that would reject a teacher's response in
favour of a student's is dropped (PanGu-Coder2 drops the cases where the teacher scores lower:
the teacher is the quality anchor, so such pairs are more likely a test artefact than a better
answer); the caller counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

ROLES = ("teacher", "student")


@dataclass(frozen=True)
class Scored:
    text: str
    score: float
    label: str = ""          # the outcome class behind the score
    role: str = "student"    # teacher | student
    model: str = ""
    order: int = 0           # generation order, the last tie-breaker


def _role_rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else len(ROLES)


def rank(candidates: Sequence[Scored]) -> list:
    """Best first: higher score, then teacher before student, then generation order."""
    return sorted(candidates, key=lambda c: (-c.score, _role_rank(c.role), c.order))


def collapse(text: str) -> str:
    """Whitespace-insensitive identity of a response (two spellings of one answer are one)."""
    return re.sub(r"\s+", " ", text.strip())


@dataclass(frozen=True)
class Pairs:
    pairs: list                 # (chosen, rejected) Scored tuples
    teacher_lower: int = 0      # pairs dropped because the rejected one was the teacher's


def preference_pairs(candidates: Sequence[Scored], max_pairs: int, chosen: Optional[Scored] = None,
                     identity: Callable[[str], str] = collapse) -> Pairs:
    """(chosen, rejected) pairs: the chosen against each distinct lower-scored candidate, worst first."""
    if not candidates and chosen is None:
        return Pairs([])
    best = chosen or rank(candidates)[0]
    seen = {identity(best.text)}
    pairs, teacher_lower = [], 0
    for c in sorted(candidates, key=lambda c: (c.score, -_role_rank(c.role), c.order)):
        if c.score >= best.score or not c.text.strip() or identity(c.text) in seen:
            continue
        seen.add(identity(c.text))
        if c.role == "teacher" and best.role != "teacher":
            teacher_lower += 1
            continue
        if len(pairs) < max_pairs:
            pairs.append((best, c))
    return Pairs(pairs, teacher_lower)
