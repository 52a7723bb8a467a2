"""A text analysed before is not analysed again (``redact.AnalysisMemo``): the results, the work
units charged to each record and every over-budget decision are those of a redactor without it."""

from __future__ import annotations

import random

import pytest

from codecorpus.config import default_config
from codecorpus.pii.redact import AnalysisMemo, RedactRecordEvents, Redactor

SECRET = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"


def config(**pii) -> dict:
    c = default_config()
    c["pii"].update(pii)
    return c


def redactors(**pii) -> tuple[Redactor, Redactor]:
    """(with the memo, without it) for the same configuration."""
    with_memo, without = Redactor(config(**pii)), Redactor(config(**pii))
    without._analyses = AnalysisMemo(max_entries=0)
    # The same engines: presidio runs a registry's recognizers in set order (by object id), and
    # where a record over budget stops depends on that order (not on the memo).
    without._engines = with_memo.engines()
    return with_memo, without


def texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    pieces = ["def f(x):\n    return x + 1\n", f"TOKEN = '{SECRET}'\n", "contact: jane.roe@corp-mail.de\n",
              "server 93.184.216.34 port 80\n", "password = 'Xk29!vQ7zLp'\n", "Author: Jane Roe\n",
              "plain words and more words\n", "# Copyright (c) 2019 Sam Poe\n", f"x = {SECRET}\n"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(12)]


def records(seed: int) -> list[dict]:
    """Commits whose old contents are often the previous one's new contents, and texts repeated
    across fields and records: what the memo sees in the commit job."""
    rng = random.Random(seed)
    pool = texts(seed)
    out, previous = [], rng.choice(pool)
    for i in range(40):
        new = rng.choice(pool)
        out.append({"commit": f"c{i}", "old_contents": previous, "new_contents": new,
                    "subject": rng.choice(["Fix it", f"Rotate {SECRET}", "Mail jane.roe@corp-mail.de"]),
                    "message": rng.choice(pool[:3] + [None])})
        previous = new if rng.random() < 0.7 else rng.choice(pool)
    return out


FIELDS = ("old_contents", "new_contents", "subject", "message")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_and_work_units_equal_a_redactor_without_the_memo(seed):
    with_memo, without = redactors()
    for record in records(seed):
        b1, b2 = with_memo.budget(), without.budget()
        r1 = with_memo.redact_record(record, FIELDS, b1)
        r2 = without.redact_record(record, FIELDS, b2)
        assert (r1.record, r1.spans, r1.over_budget) == (r2.record, r2.spans, r2.over_budget)
        assert b1.work == b2.work  # each record is charged the same units, to the unit
    assert with_memo._analyses.hits > 20 and without._analyses.hits == 0


@pytest.mark.parametrize("max_work", [60_000, 150_000, 400_000])
def test_over_budget_records_stop_where_they_stopped_without_the_memo(max_work):
    """A tight budget: a repeat that no longer fits is analysed again and stops at the same place
    (same partial redaction, same field and reason, same units); events and dead letters equal."""
    with_memo, without = redactors(max_work_per_record=max_work)
    events = [RedactRecordEvents(r, FIELDS, "pii", "commits", key_of=lambda r: r["commit"]) for r in (with_memo, without)]
    reasons = set()
    for record in records(7) * 2:
        e1, e2 = (fn(record) for fn in events)
        assert e1 == e2
        b1, b2 = with_memo.budget(), without.budget()
        r1, r2 = with_memo.redact_record(record, FIELDS, b1), without.redact_record(record, FIELDS, b2)
        assert (r1.record, r1.spans, r1.over_budget, b1.work) == (r2.record, r2.spans, r2.over_budget, b2.work)
        reasons.add(r1.over_budget)
    assert any(reasons - {None}) or max_work == 400_000  # the tight budgets do run out


def test_a_failing_record_among_repeats_is_dead_lettered_as_before():
    with_memo, without = redactors()
    batch = records(4)[:6]
    batch.insert(3, {"commit": "bad", "old_contents": 12, "new_contents": batch[0]["new_contents"]})
    for redactor in (with_memo, without):
        fn = RedactRecordEvents(redactor, FIELDS, "pii", "commits")
        outcomes = []
        for record in batch:
            try:
                outcomes.append(fn(record))
            except TypeError as e:  # routing.Route turns this into the record's dead letter
                outcomes.append(str(e))
        redactor.outcomes = outcomes
    assert with_memo.outcomes == without.outcomes
    assert "field 'old_contents' is int, not text" in with_memo.outcomes[3]


def test_remembered_results_are_copies_and_the_memo_is_bounded():
    memo = AnalysisMemo(max_entries=2)
    with_memo, _ = redactors()
    with_memo._analyses = memo
    text = f"TOKEN = '{SECRET}'\n"
    first, _ = with_memo.analyze(text, with_memo.budget())
    first[0].start = 999  # a caller changing its results changes nobody else's
    again, _ = with_memo.analyze(text, with_memo.budget())
    assert memo.hits == 1 and again[0].start == text.index(SECRET) and again[0] is not first[0]
    for other in ("a = 1\n", "b = 2\n", "c = 3\n"):
        with_memo.analyze(other, with_memo.budget())
    assert len(memo._entries) == 2 and memo.key(text) not in memo._entries
    assert memo.key("é\ud800") != memo.key("é")  # lone surrogates hash too
