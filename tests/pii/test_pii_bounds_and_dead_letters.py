"""Defects of issues 14 and 15 in PII redaction, one test each: a deterministic bound on work
(not wall time), lone surrogates in dead letters, author metadata in raws that do not parse,
and dead-letter messages that say what really happened."""

from __future__ import annotations

import itertools
import json

import pytest
from apache_beam.coders import FastPrimitivesCoder

from codecorpus.config import default_config
from codecorpus.core.routing import dead_letter
from codecorpus.pii import redact as redact_module
from codecorpus.pii.recognizers import base as rec_base
from codecorpus.pii.redact import WITHHELD, WITHHELD_FAILED, RedactRecordEvents, Redactor, redact_dead_letter_row


def config(**pii) -> dict:
    c = default_config()
    c["pii"].update(pii)
    return c


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    r = Redactor(config())
    r.engines()
    return r


CODE = "".join(f"def f{i}(x):\n    # see https://example.com/{i}\n    return x * {i} + len('v{i}.{i}.{i}')\n"
               for i in range(400))  # about 30 KB of plain code, no PII


# --- issue 14 item 4: the bound is on work, not on the worker's speed ----------------------------


def test_a_slow_worker_gets_the_same_output(redactor, monkeypatch):
    """Same input, a clock that moves 1 s per look (a loaded machine): the same redaction, not an
    over-budget record (with the old 2 s per-record limit this record was withheld)."""
    text = CODE + "\nTOKEN = 'ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5'\n"
    expected = redactor.redact_record({"content": text}, ["content"])
    assert expected.over_budget is None

    ticks = itertools.count()
    slow = lambda: next(ticks) * 1.0  # noqa: E731
    monkeypatch.setattr(rec_base.time, "monotonic", slow)
    monkeypatch.setattr(redact_module.time, "monotonic", slow)
    again = Redactor(config())
    again.engines()
    result = again.redact_record({"content": text}, ["content"])
    assert result.over_budget is None
    assert result.record == expected.record and result.spans == expected.spans


def test_work_bound_decides_from_the_input_alone():
    tight = Redactor(config(max_work_per_record=200_000))
    budgets = []
    for _ in range(2):
        budget = tight.budget()
        result = tight.redact_record({"content": CODE, "message": "fix"}, ["content", "message"], budget)
        budgets.append(budget.work)
        assert result.over_budget == ("content", "work")
    assert budgets[0] == budgets[1]  # the same units spent, to the unit
    roomy = Redactor(config())
    budget = roomy.budget()
    assert roomy.redact_record({"content": CODE}, ["content"], budget).over_budget is None
    assert 0 < budget.work < roomy.config.max_work_per_record // 100  # ordinary code is far from the bound


def test_size_bound_and_its_counter():
    small = Redactor(config(max_chars_per_record=1000))
    events = RedactRecordEvents(small, ["content"], "pii", "records")({"content": CODE})
    assert [e.counter for e in events if hasattr(e, "counter")] == ["pii/too_large"]
    assert events[-1].row["raw"].count(WITHHELD) == 1 and "def f1" not in events[-1].row["raw"]


def test_wall_clock_guard_is_counted_apart_and_named(monkeypatch):
    """The guard still fires (a runaway NLP model), but it is counted as pii/over_time and the
    message says it is the machine-dependent guard."""
    guarded = Redactor(config(time_limit_seconds=0.5))
    guarded.engines()
    ticks = itertools.count()
    monkeypatch.setattr(rec_base.time, "monotonic", lambda: next(ticks) * 1.0)
    monkeypatch.setattr(redact_module.time, "monotonic", lambda: next(ticks) * 1.0)
    events = RedactRecordEvents(guarded, ["content"], "pii", "records")({"content": CODE})
    counters = [e.counter for e in events if hasattr(e, "counter")]
    assert counters == ["pii/over_time"]
    assert "wall-clock guard" in events[-1].row["error"]


@pytest.mark.parametrize("bad", [{"max_work_per_record": 0}, {"max_chars_per_record": "lots"},
                                 {"max_findings_per_document": -1}, {"time_limit_seconds": True}])
def test_bounds_are_validated(bad):
    with pytest.raises(redact_module.PiiConfigError, match=next(iter(bad))):
        Redactor(config(**bad))


# --- issue 14 item 8: a lone surrogate never stops the run --------------------------------------


def test_lone_surrogate_escape_in_a_dead_letter_survives_the_coder(redactor):
    line = b'{"id": 1, "content": "emoji cut \\ud800 here", "message": "ok"}'
    row = dead_letter("parse", "records", None, "field 'content' is not valid UTF-8 text", line, "a.jsonl:1").row
    out, _ = redactor.redact_dead_letter(row)
    out["raw"].encode("utf-8")
    FastPrimitivesCoder().encode(out)  # what Beam does between stages: it raised UnicodeEncodeError
    assert "\\ud800" in out["raw"]     # and the dead letter still shows what was there


# --- issue 14 item 9: author metadata never survives in a raw that does not parse --------------

AUTHORED = ('{"commit": "c0ffee", "author": {"name": "Jane Roe", "email": "jane.roe@corp.internal", "time_sec": 1}, '
            '"committer": {"name": "Ada Byron", "email": "ada@build.lan"}, "trailer": [{"key": "Signed-off-by", '
            '"value": "Grace Hopper <grace@mail.corp>", "email": "grace@mail.corp"}], "message": "fix')


@pytest.mark.parametrize("raw, truncated", [
    (AUTHORED, False),                                    # malformed: the message never closes
    (AUTHORED + '"}', True),                              # whole JSON, but cut by max_raw_chars
    (AUTHORED[:AUTHORED.index("corp.internal") + 4], True),  # cut inside the address
])
def test_author_policy_applies_to_raws_that_do_not_parse(redactor, raw, truncated):
    row = dead_letter("parse", "commits", None, "malformed JSON", raw, "dump.jsonl:7").row
    row["raw_truncated"] = truncated
    out, withheld = redactor.redact_dead_letter(row)
    assert not withheld
    for leaked in ("jane.roe@", "corp.int", "ada@build.lan", "grace@mail.corp", "Jane Roe", "Ada Byron",
                   "Grace Hopper"):
        assert leaked not in out["raw"], leaked
    assert '"commit": "c0ffee"' in out["raw"]  # the rest of the raw is still there to debug with


def test_author_policy_in_raws_can_hash(redactor):
    hashing = Redactor(config(author={"email": "hash", "names": "keep", "hash_salt": "s",
                                      "fields": ["author", "committer"], "trailer_fields": ["trailer"]}))
    row = dead_letter("parse", "commits", None, "malformed JSON", AUTHORED, "dump.jsonl:7").row
    out, _ = hashing.redact_dead_letter(row)
    assert "corp.internal" not in out["raw"] and "sha256:" in out["raw"] and "Jane Roe" in out["raw"]


# --- issue 15 item 7: messages that say what happened -------------------------------------------


def test_a_failed_redaction_is_not_called_over_budget(redactor, monkeypatch):
    def broken(row):
        raise ValueError("boom")

    monkeypatch.setattr(redactor, "redact_dead_letter", broken)
    row = dead_letter("parse", "records", None, "malformed JSON", "{secret", "a.jsonl:3").row
    out, counter = redact_dead_letter_row(redactor, row)
    assert out["raw"] == WITHHELD_FAILED and "over budget" not in out["raw"] + out["error"]
    assert "PII redaction failed (ValueError)" in out["error"]
    assert counter == "pii/dead_letter_raw_withheld"


def test_over_budget_in_the_error_withholds_the_error_not_the_raw():
    capped = Redactor(config(max_findings_per_document=3))
    emails = " ".join(f"u{i}@corp-mail.com" for i in range(10))
    row = dead_letter("pii", "records", "k", f"ValueError: bad addresses {emails}", '{"a": 1}', "a.jsonl:1").row
    out, withheld = capped.redact_dead_letter(row)
    assert withheld
    assert "corp-mail.com" not in out["error"]            # it used to keep the whole error unredacted
    assert out["raw"] == '{"a": 1}'                       # the raw was fine and is kept
    assert "error withheld" in out["error"] and "raw withheld" not in out["error"]


def test_over_budget_message_names_the_field_and_every_withheld_one():
    capped = Redactor(config(max_findings_per_document=3))
    emails = " ".join(f"u{i}@corp-mail.com" for i in range(10))
    record = {"content": "print('hi')\n", "message": f"notify {emails}", "subject": "s"}
    events = RedactRecordEvents(capped, ["content", "message", "subject"], "pii", "records")(record)
    error = events[-1].row["error"]
    assert "in field 'message'" in error and "findings" in error
    assert "per document" in error                        # the cap is per field, not per record
    assert "content, message, subject withheld" in error
    assert json.loads(events[-1].row["raw"])["subject"] == WITHHELD


# --- the recognizers' order: the same in every process -------------------------------------------


def test_recognizers_run_most_certain_first_in_every_redactor():
    """presidio hands back the recognizers of the requested entities as a set (an order set by
    memory addresses); a record that runs out of budget keeps the findings of the recognizers
    that ran, so every redactor must run them in ``build_techniques``' order."""
    from codecorpus.pii.recognizers import build_techniques

    cfg = config()
    settings = Redactor(cfg).config
    expected = [type(t).__name__ for t in build_techniques(settings.settings, settings.entities)]
    assert len(expected) > 3
    keep = []
    for _ in range(6):
        keep.append([object() for _ in range(1000)])  # other allocations: other addresses
        analyzer = Redactor(cfg).engines().analyzer
        chosen = analyzer.registry.get_recognizers(language="en", entities=list(settings.entities))
        assert [r.name for r in chosen] == expected
