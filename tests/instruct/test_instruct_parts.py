"""The instruct stages without Beam: response parsing, question checks, Evol-Instruct, doctest
mining, RRTF ranking, the LLM client's response cache (against the fake server)."""

from __future__ import annotations

import pytest

from codecorpus.config import load_config
from codecorpus.core import ranking
from codecorpus.core.routing import Count, Drop
from codecorpus.instruct import doctests, evolve, parse, seeds
from codecorpus.io.llm import ChatClient, ResponseCache

from fake_llm import DOCTEST_MODULE, FakeCodeLLM


@pytest.mark.parametrize("text,finish,expected", [
    ("```python\ndef f():\n    return 1\n```", "stop", ("def f():\n    return 1\n", None)),
    ("Sure!\n```py\nx = 1\n```\nand\n```python\ny = 2\n```", "stop", ("x = 1\n", None)),
    ("def f(x):\n    return x\n", "stop", ("def f(x):\n    return x\n", None)),
    ("```python\ndef f(:\n```", "stop", ("def f(:\n", None)),          # kept: a compile error is an outcome
    ("", "stop", (None, "empty")),
    ("   \n", None, (None, "empty")),
    ("```python\ndef f():\n    return", "length", (None, "truncated")),
    ("```python\ndef f():\n    return", "stop", (None, "truncated")),    # an unclosed fence
    ("```javascript\nfunction f() { return 1; }\n```", "stop", (None, "wrong_language")),
    ("function f(a) { return a; }", "stop", (None, "wrong_language")),
    ("You would loop over the list.", "stop", (None, "not_code")),
    ("Sure", "stop", (None, "not_code")),
])
def test_extract_code(text, finish, expected):
    assert parse.extract_code(text, finish) == expected


def test_extract_tests():
    assert parse.extract_tests("```python\nassert f(1) == 2\nassert f(2) == 3\n```")[1] is None
    assert parse.count_tests("def test_a():\n    assert 1\n\ndef test_b():\n    assert 2\n") == 2
    assert parse.extract_tests("```python\nx = f(1)\n```") == (None, "no_tests")
    assert parse.extract_tests("```python\nassert f(1 ==\n```") == (None, "syntax_error")


@pytest.mark.parametrize("text,parent,reason", [
    ("Write a function that reverses a linked list in place.", None, None),
    ("", None, "empty"),
    ("I'm sorry, but I cannot help with that request.", None, "refusal"),
    ("As an AI language model, I cannot do that.", None, "refusal"),
    ("```python\ndef f():\n    return 1\n```", None, "answer_not_question"),
    ("def reverse(xs):\n    return xs[::-1]\n", None, "answer_not_question"),
    ("Sort it.", None, "too_short"),
    ("Write a function that reverses a linked list in place.", "Write a function that reverses a linked list in "
     "place!", "copy"),
])
def test_question_checks(text, parent, reason):
    assert parse.question_problem(text, parent=parent) == reason


def test_clean_question_and_numbered_lists():
    assert parse.clean_question("**New Question:** Write `f(x)`.") == "Write `f(x)`."
    assert parse.split_numbered("1. First one\n   continues\n2) Second\n\n- third") == \
        ["First one continues", "Second", "third"]


class Scripted:
    """A client stand-in returning one fixed answer (the fake server covers the HTTP side)."""

    def __init__(self, content, finish="stop"):
        from codecorpus.io.llm import Choice

        self.answer = Choice(content, finish)
        self.calls = []

    def choices(self, messages, n=1, temperature=0.0):
        self.calls.append(messages)
        return [self.answer] * n


def _cfg():
    return load_config()["instruct"]


def test_evolution_is_seeded_per_question_and_round_and_drops_degenerate_rewrites():
    cfg = _cfg()
    q = seeds.question_record("Write a function `add(a, b)` returning the sum.", "instructions", "s#1", "Python")
    methods = cfg["evolve"]["methods"]
    picks = {evolve.pick_method(methods, 0, q["id"], r) for r in range(1, 30)}
    assert picks == set(methods)  # every method is used ...
    assert evolve.pick_method(methods, 0, q["id"], 3) == evolve.pick_method(methods, 0, q["id"], 3)  # ... seeded
    client = Scripted("New question: Write a function `add(a, b)` returning the sum; reject non-integers with a "
                      "TypeError and handle arbitrarily large values.")
    events = evolve.evolve_one(q, 1, cfg, client)
    evolved = [e for e in events if isinstance(e, dict)][0]
    assert evolved["round"] == 1 and evolved["parent_id"] == q["id"] and evolved["id"] != q["id"]
    assert evolved["question"].startswith("Write a function") and evolved["evolve_method"] in methods
    method_text = client.calls[0][-1]["content"]
    assert "increase the difficulty" in method_text
    for answer, reason in (("I'm sorry, I can't.", "refusal"), (q["question"], "copy"),
                           ("```python\ndef add(a, b):\n    return a + b\n```", "answer_not_question"), ("", "empty")):
        assert Drop(f"filter/evolve/{reason}") in evolve.evolve_one(q, 1, cfg, Scripted(answer))
    assert Drop("filter/evolve/truncated") in evolve.evolve_one(q, 1, cfg, Scripted("Write more", "length"))


def test_seed_records_and_generated_questions():
    cfg = _cfg()
    events = seeds.from_instruction_record({"instruction": "Write a function that adds two numbers.",
                                            "input": "Use integers only."}, cfg, "f#1")
    record = [e for e in events if isinstance(e, dict)][0]
    assert record["question"].endswith("Use integers only.") and record["seed_ref"] == "f#1"
    assert seeds.from_instruction_record({"output": "x"}, cfg) == [Drop("filter/seed/no_instruction")]
    gen = seeds.questions_for_topic("strings", cfg, Scripted("1. Write a function `rev(s)` reversing a string.\n"
                                                              "2. ok\n"))
    assert Drop("filter/generate/too_short") in gen and sum(isinstance(e, dict) for e in gen) == 1


def test_snippets_found_with_tree_sitter():
    finder = seeds.SnippetFinder(min_lines=2, max_lines=10)
    content = "import os\n\ndef a(x):\n    return x\n\nclass K:\n    def b(self):\n        y = 1\n        return y\n"
    found = finder.functions(content)
    assert [(line, name) for line, name, _ in found] == [(3, "a"), (7, "b")]
    events = seeds.snippets_of_file({"repo": "o/r", "path": "m.py", "lang": "Python", "content": content},
                                    finder, _cfg())
    assert [e["ref"] for e in events if isinstance(e, dict)] == ["o/r/m.py:3:a", "o/r/m.py:7:b"]
    assert seeds.snippets_of_file({"path": "x.js", "lang": "JavaScript", "content": "x"}, finder, _cfg()) == \
        [Drop("filter/seed/not_python")]


def test_doctest_mining_builds_self_contained_solutions():
    mined = list(doctests.mine(DOCTEST_MODULE))
    kept = {m.name: m for m in mined if isinstance(m, doctests.Mined)}
    rejected = {m.name: m.reason for m in mined if isinstance(m, doctests.Rejected)}
    assert set(kept) == {"words", "hyp", "wrong", "spin", "peek"}
    assert rejected == {"uses_numpy": "non_stdlib_import", "m": "not_module_level"}
    words = kept["words"].solution
    assert words.index("import re") < words.index("_WORD =") < words.index("def _clean") < words.index("def words")
    assert "import math" not in words and "def hyp" not in words
    assert kept["hyp"].tests == ">>> hyp(3, 4)\n5.0\n"
    ns: dict = {}
    exec(words, ns)  # runs alone with the standard library
    assert ns["words"]("A b") == ["a", "b"]
    assert [r.reason for r in doctests.mine("from .x import y\n\ndef f():\n    '''\n    >>> f()\n    1\n    '''\n"
                                            "    return y\n")] == ["relative_import"]
    assert [r.reason for r in doctests.mine("def f():\n    '''\n    >>> f()\n    1\n    '''\n    return g()\n")] == \
        ["needs_more"]
    skipped = "def f():\n    '''\n    >>> f()  # doctest: +SKIP\n    1\n    '''\n    return 1\n"
    assert [r.reason for r in doctests.mine(skipped)] == ["skipped_examples"]


def test_rrtf_ranking_teacher_wins_ties_and_teacher_lower_pairs_are_dropped():
    c = [ranking.Scored("s_pass", 3.0, "pass", "student", order=0), ranking.Scored("t_pass", 3.0, "pass", "teacher",
                                                                                 order=1),
         ranking.Scored("t_compile", 0.0, "compile_error", "teacher", order=2),
         ranking.Scored("s_partial", 2.5, "partial", "student", order=3),
         ranking.Scored("s_partial ", 2.5, "partial", "student", order=4)]
    assert [x.text for x in ranking.rank(c)][:2] == ["t_pass", "s_pass"]
    found = ranking.preference_pairs(c, max_pairs=5)
    assert [(a.text, b.text) for a, b in found.pairs] == [("t_pass", "t_compile"), ("t_pass", "s_partial")]
    student_best = [ranking.Scored("s", 3.0, "pass", "student"), ranking.Scored("t", 2.0, "partial", "teacher")]
    dropped = ranking.preference_pairs(student_best, 4)
    assert dropped.pairs == [] and dropped.teacher_lower == 1


def test_response_cache_makes_reruns_ask_nothing(tmp_path):
    with FakeCodeLLM() as server:
        cache = ResponseCache(str(tmp_path / "cache"))
        client = ChatClient(server.url, "teacher-model", cache=cache, timeout_seconds=5)
        messages = [{"role": "user", "content": "Write unit tests for the problem.\n\nProblem:\nWrite `add(a, b)`."}]
        first = client.choices(messages, 1, 0.2)
        again = ChatClient(server.url, "teacher-model", cache=ResponseCache(str(tmp_path / "cache")))
        assert again.choices(messages, 1, 0.2) == first and again.requests == 0 and again.cache_hits == 1
        assert len(server.requests) == 1
        other = again.choices(messages, 1, 0.7)  # another temperature is another request
        assert len(server.requests) == 2 and other
        assert first[0].finish_reason == "stop" and "assert add(1, 2) == 3" in first[0].content
        assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_mix_knows_the_instruct_tables():
    from codecorpus.mix import mixing

    sources = mixing.parse_sources({"sources": [
        {"name": "ci", "path": "out/instruct/code_instructions", "kind": "code_instructions"},
        {"name": "cp", "path": "out/instruct/code_preferences", "kind": "code_preferences"}]})
    instruction = {"id": "q1", "question": "Write `add(a, b)`.", "solution": "def add(a, b):\n    return a + b\n",
                   "seed_ref": "seeds.jsonl#1", "license": None, "language": "Python"}
    row = mixing.render(instruction, sources[0], mixing.CHATML)
    assert row["id"] == "ci/q1" and row["messages"][1]["content"] == instruction["solution"]
    # a question and its preference pairs share the member key: they land in one split
    assert row["_member"] == "q1" and row["lang"] == "Python" and row["path"] == "seeds.jsonl#1"
    pair = {"id": "q1", "prompt": "Solve it.", "chosen": "good", "rejected": "bad", "chosen_model": "t",
            "rejected_model": "s", "language": "Python"}
    row = mixing.render(pair, sources[1], mixing.CHATML)
    assert (row["prompt"], row["completion"]) == ("Solve it.\n\n", "good") and row["_member"] == "q1"
    assert row["id"] != mixing.render(dict(pair, rejected="worse"), sources[1], mixing.CHATML)["id"]
