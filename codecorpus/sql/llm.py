"""An optional LLM backend: questions for SQL, SQL candidates for questions, voting and ranking.

The client (``codecorpus/io/llm.py``) speaks the OpenAI-compatible ``POST /v1/chat/completions``
API (a vLLM or any other compatible server) with urllib only. ``n`` candidates are asked for in
one request; a server that returns fewer choices is asked again until there are ``n``.

- Execution-based self-consistency (SQL-PaLM, REFERENCE §6): every candidate is executed; those
  that do not parse or fail at run time are dropped; the remaining result sets are grouped by
  their canonical key (multiset of rows unless ordered, column permutations allowed); the largest
  group wins (ties: the group seen first) and its most frequent SQL text is the chosen candidate.
- RRTF ranking: parse error (0) < runtime error (1) < a result other than the consensus, or an
  empty one (2) < the consensus (3). Preference pairs are (prompt, chosen, rejected) with chosen
  from the consensus and rejected from lower ranks, the worst ranks first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

from codecorpus.core import ranking
from codecorpus.io.llm import ChatClient, LLMError, chat_url  # noqa: F401 - this module's API since before the move

# RRTF's order; with a test suite, a candidate that matches the consensus on the database but not
# on every suite database ("original_only") ranks above one that disagrees everywhere.
RANKS = {"parse_error": 0, "runtime_error": 1, "disagreeing": 2, "original_only": 2.5, "consensus": 3}


# --- prompts ------------------------------------------------------------------------------------------

SYSTEM_QUESTION = ("You write the natural-language question a user would ask to get exactly the result of a "
                   "SQL query. Answer with the question only.")
SYSTEM_SQL = ("You are a text-to-SQL system. Given a SQLite database schema and a question, answer with one "
              "SQLite SELECT query in a ```sql block.")


def question_messages(schema_ddl: str, sql: str) -> list:
    return [{"role": "system", "content": SYSTEM_QUESTION},
            {"role": "user", "content": f"Database schema:\n{schema_ddl}\n\nSQL:\n{sql}\n\nQuestion:"}]


def sql_messages(schema_ddl: str, question: str) -> list:
    return [{"role": "system", "content": SYSTEM_SQL},
            {"role": "user", "content": f"Database schema:\n{schema_ddl}\n\nQuestion: {question}\n\nSQL:"}]


def prompt_text(schema_ddl: str, question: str) -> str:
    """The text-to-SQL prompt as one string (what a preference pair's ``prompt`` holds)."""
    return "\n\n".join(m["content"] for m in sql_messages(schema_ddl, question))


def extract_sql(text: str) -> str:
    m = re.search(r"```(?:sql|sqlite)?\s*\n?(.*?)```", text, re.S | re.I)
    body = m.group(1) if m else text
    if not m:
        start = re.search(r"\b(?:SELECT|WITH)\b", body, re.I)
        body = body[start.start():] if start else body
    return body.strip().rstrip(";").strip()


def extract_question(text: str) -> str:
    for line in text.strip().splitlines():
        line = re.sub(r"^\s*(?:question\s*:\s*)", "", line.strip(), flags=re.I).strip().strip('"').strip()
        if line:
            return line
    return ""


# --- voting and ranking -------------------------------------------------------------------------------


@dataclass
class Executed:
    sql: str
    status: str                   # ok | parse_error | runtime_error
    key: Optional[str] = None     # result key (ok only)
    empty: bool = False
    rank: int = 0
    label: str = "parse_error"


@dataclass
class Vote:
    executed: list
    winner_key: Optional[str] = None
    chosen: Optional[str] = None
    votes: int = 0
    statuses: Counter = field(default_factory=Counter)


def self_consistency(candidates: list, execute: Callable[[str], tuple]) -> Vote:
    """Execute every candidate (``execute(sql) -> (status, result_key or None, empty)``), vote
    over result keys, and rank each candidate RRTF-style."""
    executed = []
    for sql in candidates:
        status, key, empty = execute(sql)
        executed.append(Executed(sql, status, key, empty))
    groups: dict = {}
    order: list = []
    for e in executed:
        if e.status == "ok" and not e.empty:
            if e.key not in groups:
                groups[e.key] = []
                order.append(e.key)
            groups[e.key].append(e)
    vote = Vote(executed)
    if groups:
        winner = max(order, key=lambda k: (len(groups[k]), -order.index(k)))
        vote.winner_key, vote.votes = winner, len(groups[winner])
        texts = Counter(_normal(e.sql) for e in groups[winner])
        best = max(texts.values())
        vote.chosen = next(e.sql for e in groups[winner] if texts[_normal(e.sql)] == best)
    for e in executed:
        if e.status == "parse_error":
            e.label = "parse_error"
        elif e.status != "ok":
            e.label = "runtime_error"
        elif e.key == vote.winner_key and not e.empty:
            e.label = "consensus"
        else:
            e.label = "disagreeing"
        e.rank = RANKS[e.label]
        vote.statuses[e.label] += 1
    return vote


def mark_original_only(vote: Vote) -> Vote:
    """With result keys that are vectors (the database first, then its test suite): relabel the
    disagreeing candidates whose result matches the winner's on the database itself."""
    winner = vote.winner_key
    if not isinstance(winner, tuple):
        return vote
    for e in vote.executed:
        if e.label == "disagreeing" and isinstance(e.key, tuple) and e.key[:1] == winner[:1] and not e.empty:
            vote.statuses["disagreeing"] -= 1
            vote.statuses["original_only"] += 1
            e.label, e.rank = "original_only", RANKS["original_only"]
    vote.statuses = +vote.statuses
    return vote


def consensus_members(vote: Vote) -> set:
    return {i for i, e in enumerate(vote.executed) if e.label == "consensus"}


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.strip().rstrip(";")).lower()


def preference_pairs(vote: Vote, max_pairs: int, chosen: Optional[str] = None) -> list:
    """(chosen, rejected, chosen_label, rejected_label) pairs: the consensus member against each
    distinct lower-ranked candidate, worst first, at most ``max_pairs`` (the shared RRTF module,
    ``codecorpus/core/ranking.py``)."""
    chosen = chosen or vote.chosen
    if chosen is None:
        return []
    candidates = [ranking.Scored(e.sql, e.rank, e.label, order=i) for i, e in enumerate(vote.executed)]
    best = ranking.Scored(chosen, RANKS["consensus"], "consensus")
    found = ranking.preference_pairs(candidates, max_pairs, chosen=best, identity=_normal)
    return [(c.text, r.text, c.label, r.label) for c, r in found.pairs]
