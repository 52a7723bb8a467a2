"""``codecorpus instruct`` end to end: against the fake OpenAI-compatible server (seeds, one
Evol-Instruct round, dedup, tests, a teacher and a student, every outcome class, RRTF pairs, dead
letters), rerun with multi-processing from the response cache to byte-identical tables; and the
offline doctest mode over a folder of hostile and ordinary functions."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from codecorpus.instruct import sandbox as sb

from conftest import manifest_of, read_table, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "instruct"))
from fake_llm import DOCTEST_MODULE, FakeCodeLLM  # noqa: E402

OK, WHY = sb.bwrap_status()
needs_bwrap = pytest.mark.skipif(not OK, reason=f"bubblewrap cannot run a sandbox here: {WHY}")

SEEDS = [
    {"instruction": "Write a function `add(a, b)` that returns the sum of two integers."},
    {"instruction": "Write a function `fizz(n)` that returns 'Fizz' for multiples of three and the number as a "
                    "string otherwise."},
    {"instruction": "Write a function `hard(x)` that returns the square of the integer x."},
    {"instruction": "Write a function `double(x)` that returns twice the number it is given."},
    {"instruction": "Write a function `sorry(x)` that apologises to the user x times."},
    {"instruction": "Write a function `broken(x)` that the server refuses to answer about."},
    {"instruction": "Write a function `add(a, b)` that returns the sum of two integers."},   # exact duplicate
    {"output": "no instruction here"},
]

CONFIG = """
instruct:
  evolve:
    rounds: 1
  solutions:
    models:
      - {model: teacher-model, role: teacher, n: 11}
      - {model: student-model, role: student, n: 2}
  sandbox:
    timeout_seconds: 2
    cpu_seconds: 2
    max_processes: 16
"""

TABLES = ("code_instructions", "code_preferences", "executions", "dead_letter")


def _write_inputs(tmp_path: Path) -> tuple:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(r) + "\n" for r in SEEDS) + "{not json\n")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    return seeds, config


def _table_bytes(output: Path) -> dict:
    return {str(p.relative_to(output)): p.read_bytes() for t in TABLES for p in sorted((output / t).glob("*.parquet"))}


@pytest.mark.slow
@needs_bwrap
def test_instruct_job_against_the_fake_server(tmp_path):
    seeds, config = _write_inputs(tmp_path)
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    with FakeCodeLLM() as server:
        assert run_cli("instruct", "--from", "instructions", "--input", seeds, "--output", out, "--config", config,
                       "--llm-endpoint", server.url, "--llm-cache", cache) == 0
        asked = len(server.requests)
        manifest = manifest_of(out)
        counters = manifest["counters"]
        assert all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
        assert manifest["sandbox"]["isolation"] == "bwrap"

        rows = read_table(out, "code_instructions")
        by_key = {(r["seed_ref"], r["round"]): r for r in rows}
        names = Counter((r["solution"].split("(")[0].split()[-1], r["round"]) for r in rows)
        assert names == Counter({("add", 0): 1, ("add", 1): 1, ("fizz", 0): 1, ("hard", 0): 1, ("hard", 1): 1,
                                 ("double", 0): 1})
        add0 = next(r for r in rows if r["round"] == 0 and "def add" in r["solution"])
        # Code Llama's rule: the first passing solution in generation order (the teacher's second answer)
        assert add0["solution"] == "def add(a, b):\n    return a + b\n" and add0["model"] == "teacher-model"
        assert add0["solutions"] == 13 and add0["passing"] == 3 and add0["pass_rate"] == pytest.approx(3 / 13)
        assert add0["tests_count"] == 3 and add0["tests_format"] == "assert" and add0["seed_source"] == "instructions"
        hard = next(r for r in rows if r["round"] == 0 and "def hard" in r["solution"])
        assert hard["role"] == "student" and hard["model"] == "student-model"
        evolved = next(r for r in rows if r["round"] == 1 and "def add" in r["solution"])
        assert evolved["parent_id"] == add0["id"] and evolved["evolve_method"] and "constant time" in evolved["question"]
        assert by_key

        runs = read_table(out, "executions")
        outcomes = Counter(r["outcome"] for r in runs)
        assert set(outcomes) == {"compile_error", "runtime_error", "timeout", "partial", "pass"}
        assert all(r["isolation"] == "bwrap" for r in runs)
        fork = [r for r in runs if "os.fork()" in r["solution"]]
        assert fork and all(r["outcome"] in ("partial", "runtime_error", "timeout") for r in fork)
        for reason in ("wrong_language", "not_code", "empty", "truncated"):
            assert counters[f"instruct/solutions/unusable/{reason}"] >= 1, reason

        prefs = read_table(out, "code_preferences")
        assert prefs and all(p["chosen_score"] > p["rejected_score"] for p in prefs)
        assert not [p for p in prefs if p["rejected_role"] == "teacher" and p["chosen_role"] == "student"]
        assert counters["instruct/rrtf/teacher_lower_dropped"] >= 1
        assert {"compile_error", "runtime_error", "timeout"} <= {p["rejected_outcome"] for p in prefs}
        assert all("Solve the following problem in Python" in p["prompt"] for p in prefs)

        # the duplicate seed, and its evolution (dedup runs after Evol-Instruct, over every round)
        assert counters["filter/exact_dedup/duplicate"] == 2
        assert counters["filter/evolve/refusal"] == 1 and counters["filter/evolve/copy"] == 1
        assert counters["filter/tests/not_code"] == 2          # sorry, and its evolution
        assert counters["filter/seed/no_instruction"] == 1
        dead = read_table(out, "dead_letter")
        assert Counter((d["table"], d["stage"]) for d in dead) == Counter(
            {("seeds", "parse"): 1, ("evolutions", "evolve_round_1"): 1, ("questions", "solve"): 1})

        # Rerun in worker processes: every answer from the cache, every table byte-identical.
        again = tmp_path / "again"
        assert run_cli("instruct", "--from", "instructions", "--input", seeds, "--output", again, "--config", config,
                       "--llm-endpoint", server.url, "--llm-cache", cache, "--quiet",
                       "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
        assert len(server.requests) - asked == 2  # only the failing requests (never cached) are retried
        assert _table_bytes(out) == _table_bytes(again)


@pytest.mark.slow
@needs_bwrap
def test_doctest_mode_needs_no_llm(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "helpers.py").write_text(DOCTEST_MODULE)
    (repo / "pkg" / "broken.py").write_text("def broken(:\n")
    (repo / "README.md").write_text("# not python\n")
    out = tmp_path / "out"
    config = tmp_path / "config.yaml"
    config.write_text("instruct:\n  sandbox:\n    timeout_seconds: 2\n")
    assert run_cli("instruct", "--from", "doctests", "--input", repo, "--output", out, "--config", config) == 0
    manifest = manifest_of(out)
    assert all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
    rows = read_table(out, "code_instructions")
    assert sorted(r["seed_ref"].rsplit(":", 1)[1] for r in rows) == ["hyp", "words"]
    words = next(r for r in rows if r["seed_ref"].endswith(":words"))
    assert words["solution"].startswith("import re\n") and "def _clean" in words["solution"]
    assert words["tests_format"] == "doctest" and words["tests"].startswith('>>> words("Hello, World")')
    assert words["role"] == "repository" and words["pass_rate"] == 1.0 and "def words(text):" in words["question"]
    outcomes = {r["solution"].split("def ")[-1].split("(")[0]: r["outcome"] for r in read_table(out, "executions")}
    assert outcomes == {"words": "pass", "hyp": "pass", "wrong": "partial", "spin": "timeout", "peek": "partial"}
    c = manifest["counters"]
    assert c["filter/doctest/non_stdlib_import"] == 1 and c["filter/doctest/not_module_level"] == 1
    assert c["instruct/doctests/unparsable_files"] == 1 and c["filter/path/not_python"] == 1
    assert c["instruct/doctests/with_doctests"] == 7


@pytest.mark.slow
@needs_bwrap
def test_generate_and_snippet_seeds(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("instruct:\n  generate:\n    topics: [arithmetic]\n  solutions:\n    n: 2\n"
                      "  sandbox:\n    timeout_seconds: 2\n")
    files = tmp_path / "files.jsonl"
    files.write_text("".join(json.dumps(r) + "\n" for r in [
        {"repo": "o/r", "path": "calc.py", "lang": "Python", "license": "mit",
         "content": "def plus(x, y):\n    \"\"\"Add.\"\"\"\n    z = x + y\n    return z\n"},
        {"repo": "o/r", "path": "app.js", "lang": "JavaScript", "content": "function f() {}\n"}]))
    with FakeCodeLLM() as server:
        out = tmp_path / "generated"
        assert run_cli("instruct", "--from", "generate", "--output", out, "--config", config,
                       "--llm-endpoint", server.url, "--llm-cache", tmp_path / "cache", "--quiet") == 0
        manifest = manifest_of(out)
        assert all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
        rows = read_table(out, "code_instructions")
        assert {r["seed_source"] for r in rows} == {"generate"} and len(rows) == 2   # add and fizz
        assert manifest["counters"]["filter/generate/too_short"] == 1                 # "3. Sure"
        assert {r["seed_ref"] for r in rows} == {"arithmetic#0", "arithmetic#1"}

        out = tmp_path / "snippets"
        assert run_cli("instruct", "--from", "snippets", "--input", files, "--output", out, "--config", config,
                       "--llm-endpoint", server.url, "--llm-cache", tmp_path / "cache", "--quiet") == 0
        manifest = manifest_of(out)
        assert all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
        rows = read_table(out, "code_instructions")
        assert [(r["seed_source"], r["seed_ref"]) for r in rows] == [("snippets", "o/r/calc.py:1:plus")]
        assert "inspired by `plus`" in rows[0]["question"]
        assert manifest["counters"]["filter/seed/not_python"] == 1


def test_refusals_before_any_work(tmp_path, monkeypatch):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps(SEEDS[0]) + "\n")
    out = tmp_path / "out"
    assert run_cli("instruct", "--input", seeds, "--output", out) == 2            # needs --llm-endpoint
    assert run_cli("instruct", "--from", "snippets", "--output", out, "--llm-endpoint", "http://127.0.0.1:9") == 2
    config = tmp_path / "none.yaml"
    config.write_text("instruct:\n  sandbox:\n    isolation: none\n")
    assert run_cli("instruct", "--from", "doctests", "--input", tmp_path, "--output", out, "--config", config) == 2
    assert not out.exists()
