"""Evol-Instruct (WizardCoder): each round rewrites every instruction into a harder one.

The method for an instruction is drawn from ``evolve.methods`` with a generator seeded by
(``evolve.seed``, the instruction's id, the round), so a rerun picks the same method and, with
the response cache, gets the same rewrite. A rewrite that is empty, a refusal, an answer instead
of a question, a near-copy of its parent (token Jaccard >= ``copy_jaccard``), too short or too
long is dropped as ``filter/evolve/<reason>``; the rest carry ``round`` (1, 2, …), their
``parent_id`` and ``evolve_method``, and feed the next round. Rounds are kept apart so a user
can merge them as WizardCoder did (every round of the evolved data together with the seeds).
"""

from __future__ import annotations

import hashlib
import random

from codecorpus.core.routing import Count, Drop
from codecorpus.instruct import parse, prompts


def question_id(*parts) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def pick_method(methods: list, seed: int, qid: str, round_: int) -> str:
    rng = random.Random(f"{seed}:{qid}:{round_}")
    return rng.choice(sorted(methods))


def evolve_one(question: dict, round_: int, cfg: dict, client) -> list:
    """Events for one evolution attempt: the evolved question, or a counted drop. A failed
    request raises (the caller dead-letters it)."""
    ecfg = cfg["evolve"]
    method = pick_method(ecfg["methods"], ecfg["seed"], question["id"], round_)
    choice = client.choices(prompts.evolve_messages(question["question"], method, question["language"]), 1,
                            ecfg["temperature"])[0]
    events = [Count("instruct/evolve/attempts"), Count(f"instruct/evolve/method/{method}")]
    if choice.finish_reason == "length":
        return events + [Drop("filter/evolve/truncated")]
    text = parse.clean_question(choice.content or "")
    reason = parse.question_problem(text, cfg["questions"]["min_chars"], cfg["questions"]["max_chars"],
                                    parent=question["question"], copy_jaccard=ecfg["copy_jaccard"])
    if reason:
        return events + [Drop(f"filter/evolve/{reason}")]
    evolved = dict(question, id=question_id(question["id"], round_, method), question=text, dedup_text=text, round=round_,
                   parent_id=question["id"], evolve_method=method)
    return events + [Count("instruct/questions/evolved"), Count(f"instruct/questions/round/{round_}"), evolved]
