"""The evaluation-set index: file formats, word n-grams, character windows, per-benchmark matches."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus.dedup.decontaminate import EvalIndex, load_texts

PROMPT = 'def has_close_elements(numbers: List[float], threshold: float) -> bool:\n    """ Check if in given list of numbers, are any two numbers closer to each other than given threshold."""\n'
SOLUTION = "    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n"
MBPP = "Write a function to find the minimum cost path to reach (m, n) from (0, 0) for the given cost matrix"
QUESTION = "How many heads of the departments are older than 56 ?"
SQL = "SELECT count(*) FROM head WHERE age  >  56"


@pytest.fixture
def eval_files(tmp_path):
    humaneval = tmp_path / "HumanEval.jsonl.gz"
    humaneval.write_bytes(gzip.compress(json.dumps(
        {"task_id": "HumanEval/0", "prompt": PROMPT, "canonical_solution": SOLUTION, "entry_point": "x"}).encode() + b"\n"))
    mbpp = tmp_path / "mbpp.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": MBPP, "code": "def min_cost(cost, m, n):\n    pass", "task_id": 1}]), mbpp)
    spider = tmp_path / "dev.json"
    spider.write_text(json.dumps([{"db_id": "department_management", "question": QUESTION, "query": SQL}]))
    notes = tmp_path / "notes.txt"
    notes.write_text("a plain text evaluation file that counts as one whole text for the index\n")
    return {"humaneval": humaneval, "mbpp": mbpp, "spider": spider, "notes": notes}


def test_load_texts_reads_every_format(eval_files):
    assert list(load_texts(str(eval_files["humaneval"]), ["prompt", "canonical_solution"])) == [PROMPT, SOLUTION]
    assert MBPP in list(load_texts(str(eval_files["mbpp"])))            # every string field when none named
    assert list(load_texts(str(eval_files["spider"]), ["question", "query"])) == [QUESTION, SQL]
    assert list(load_texts(str(eval_files["notes"]))) == [eval_files["notes"].read_text()]


def test_matches_by_word_ngrams_and_character_windows(eval_files):
    index = EvalIndex.from_config({"word_ngram": 10, "char_window": 50, "benchmarks": [
        {"name": "humaneval", "paths": [str(eval_files["humaneval"])], "fields": ["prompt", "canonical_solution"]},
        {"name": "mbpp", "paths": [str(eval_files["mbpp"])], "fields": ["text", "code"]},
        {"name": "spider_dev", "paths": [str(eval_files["spider"])], "fields": ["question", "query"]},
    ]})
    assert index.names == ["humaneval", "mbpp", "spider_dev"]
    # A solution pasted into a file: the prompt re-indented with tabs, the solution upper-cased.
    pasted = "import math\n\n" + PROMPT.replace("    ", "\t") + SOLUTION.upper() + "\nprint('done')\n"
    assert index.matches(pasted) == ["humaneval"]
    assert index.matches(f"-- {QUESTION.upper()}\nSELECT 1") == ["spider_dev"]
    assert index.matches("# " + MBPP + " and also " + PROMPT) == ["humaneval", "mbpp"]
    assert index.matches("def unrelated(x):\n    return sorted(x, key=len)\n") == []
    assert index.matches("") == []
    # The SQL is shorter than both a 10-gram and a 50-character window: it contributes nothing.
    assert index.stats["spider_dev"] == {"texts": 2, "too_short": 1, "word_ngrams": 1, "char_windows": 4}
    assert index.matches(SQL) == []


def test_word_ngrams_and_character_windows_catch_different_copies():
    long_words = "Supercalifragilistic expialidocious antidisestablishmentarianism floccinaucinihilipilification"
    texts = [SOLUTION, long_words]
    words_only = EvalIndex(word_ngram=10, char_window=None).add("b", texts).freeze()
    chars_only = EvalIndex(word_ngram=None, char_window=50).add("b", texts).freeze()
    respaced = SOLUTION.replace("abs(elem - elem2)", "abs(elem-elem2)").replace(" != ", "!=")
    assert words_only.matches(respaced) == ["b"] and chars_only.matches(respaced) == ["b"]
    squeezed = respaced.replace(", ", ",")   # no 50-character window survives; the 10-grams do
    assert words_only.matches(squeezed) == ["b"] and chars_only.matches(squeezed) == []
    assert chars_only.matches("x = '" + long_words.upper() + "'") == ["b"]   # 4 tokens: no 10-gram
    assert words_only.matches("x = '" + long_words + "'") == []


def test_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmark he: file not found"):
        EvalIndex.from_config({"benchmarks": [{"name": "he", "paths": [str(tmp_path / "missing.jsonl")]}]})
    with pytest.raises(ValueError, match="needs a name and paths"):
        EvalIndex.from_config({"benchmarks": [{"name": "he"}]})
    with pytest.raises(ValueError, match="word_ngram or char_window"):
        EvalIndex(None, None)
    assert not EvalIndex.from_config({"benchmarks": []})
