"""``codecorpus dedup`` end to end: JSONL and Parquet input, the accounting identity from the
written tables, byte-identical reruns, multi-processing, ids from hashes, options and errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import manifest_of, read_table, run_cli

PROMPT = "def below_zero(operations: List[int]) -> bool:\n    \"\"\" You're given a list of deposit and withdrawal operations on a bank account that starts with zero balance.\"\"\"\n"


def text(seed: int, n: int = 300) -> str:
    rng = random.Random(seed)
    lines = [" ".join(f"w{rng.randrange(20000)}" for _ in range(10)) for _ in range(n // 10)]
    return "\n".join(lines) + "\n"


def near_copy(source: str, seed: int) -> str:
    rng = random.Random(seed)
    toks = source.split(" ")
    for i in rng.sample(range(len(toks)), len(toks) // 100):
        toks[i] = f"v{rng.randrange(20000)}"
    return " ".join(toks)


def records() -> list[dict]:
    a, b = text(1), text(2)
    return [
        {"id": "a1", "content": a, "license": None, "stars": 1},
        {"id": "a2", "content": a, "license": "mit", "stars": 2},                    # kept: licensed
        {"id": "a3", "content": a.replace("\n", "  \r\n"), "license": None, "stars": 3},  # exact once normalised
        {"id": "a4", "content": near_copy(a, 3), "license": None, "stars": 4},       # near
        {"id": "b1", "content": b, "license": "mit", "stars": 5},
        {"id": "c1", "content": "import typing\n" + PROMPT + "    pass\n", "license": "mit", "stars": 6},
        {"id": "e1", "content": "", "license": None, "stars": 7},
        {"id": "e2", "content": "", "license": None, "stars": 8},
        {"id": "n1", "content": None, "license": None, "stars": 9},
    ]


BAD_LINES = [
    '{"id": "m1", "license": "mit", "stars": 10}',                        # no text field
    '{"id": "x1", "content": "some text", "license": 5, "stars": 11}',   # does not fit the schema
    '{"id": "broken',                                                    # malformed JSON
]


@pytest.fixture(scope="module")
def dedup_input(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dedup")
    rows = records()
    (root / "in").mkdir()
    (root / "in" / "part-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]))
    (root / "in" / "part-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[5:]) + "\n".join(BAD_LINES) + "\n")
    (root / "humaneval.jsonl").write_text(json.dumps({"task_id": "HumanEval/3", "prompt": PROMPT}) + "\n")
    (root / "config.yaml").write_text(
        "dedup:\n  decontaminate:\n    benchmarks:\n"
        f"    - {{name: humaneval, paths: ['{root / 'humaneval.jsonl'}'], fields: [prompt]}}\n")
    return root


def run_dedup(root: Path, out: str, *extra: str, source: str = "in") -> Path:
    output = root / out
    assert run_cli("dedup", "--input", root / source, "--output", output, "--text-field", "content",
                   "--id-field", "id", "--config", root / "config.yaml", "--quiet", *extra) == 0
    return output


@pytest.fixture(scope="module")
def first_run(dedup_input) -> Path:
    return run_dedup(dedup_input, "out")


def test_every_record_is_accounted_for(first_run):
    manifest = manifest_of(first_run)
    counters = manifest["counters"]
    kept, dead = read_table(first_run, "records"), read_table(first_run, "dead_letter")
    read = counters["read/records"]
    assert read == len(records()) + len(BAD_LINES)
    dropped = sum(v for k, v in counters.items() if k.startswith("filter/"))
    assert read == len(kept) + dropped + len(dead)
    assert all(terms["holds"] for terms in manifest["accounting"].values())
    assert counters["filter/exact_dedup/duplicate"] == 3          # a1, a3 (a2 kept); e2
    assert counters["filter/near_dedup/near_duplicate"] == 1      # a4
    assert counters["filter/decontaminate/humaneval"] == 1        # c1
    assert sorted(r["id"] for r in kept) == ["a2", "b1", "e1", "n1"]
    assert sorted((d["stage"], d["key"]) for d in dead) == [("conform", "x1"), ("dedup", "m1"), ("parse", None)]
    assert manifest["input"]["benchmarks"]["humaneval"]["texts"] == 1


def test_tables_keep_the_input_columns_and_describe_the_clusters(first_run):
    kept = {r["id"]: r for r in read_table(first_run, "records")}
    assert kept["a2"] == records()[1]
    assert pq.read_schema(next((first_run / "records").iterdir())).names == ["id", "content", "license", "stars"]
    clusters = {r["id"]: r for r in read_table(first_run, "clusters")}
    assert set(clusters) == {"a1", "a2", "a3", "a4", "e1", "e2"}
    assert {r["cluster_id"] for k, r in clusters.items() if k.startswith("a")} == {"a2"}
    assert clusters["a2"]["cluster_size"] == 4 and clusters["a2"]["kept"]
    assert (clusters["a1"]["match"], clusters["a4"]["match"]) == ("exact", "near")
    assert 0.7 <= clusters["a4"]["jaccard"] < 1.0
    card = (first_run / "README.md").read_text()
    assert "path: clusters/*.parquet" in card


def test_rerun_is_byte_identical(dedup_input, first_run):
    again = run_dedup(dedup_input, "again")
    for table in ("records", "clusters", "dead_letter"):
        first, second = sorted((first_run / table).iterdir()), sorted((again / table).iterdir())
        assert [p.name for p in first] == [p.name for p in second]
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert (first_run / "manifest.json").read_text().replace(str(first_run), "") == \
        (again / "manifest.json").read_text().replace(str(again), "")


def test_multi_processing_gives_the_same_tables(dedup_input, first_run):
    multi = run_dedup(dedup_input, "multi", "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    for table in ("records", "clusters", "dead_letter"):
        assert [p.read_bytes() for p in sorted((multi / table).iterdir())] == \
            [p.read_bytes() for p in sorted((first_run / table).iterdir())]
    assert manifest_of(multi)["counters"] == manifest_of(first_run)["counters"]


def test_parquet_input_gives_the_same_rows(dedup_input, first_run):
    source = dedup_input / "pq"
    source.mkdir()
    schema = pa.schema([("id", pa.string()), ("content", pa.string()), ("license", pa.string()), ("stars", pa.int64())])
    rows = records()
    pq.write_table(pa.Table.from_pylist(rows[:4], schema=schema), source / "a.parquet")
    pq.write_table(pa.Table.from_pylist(rows[4:], schema=schema), source / "b.parquet")
    out = run_dedup(dedup_input, "out-pq", source="pq")
    assert read_table(out, "records") == read_table(first_run, "records")
    assert read_table(out, "clusters") == read_table(first_run, "clusters")
    assert manifest_of(out)["accounting"]["records"] == {"read": 9, "kept": 4, "dropped": 5, "dead_lettered": 0,
                                                         "holds": True}


def test_without_an_id_field_identical_records_share_a_hash_id(tmp_path):
    rows = [{"content": text(5), "n": 1}, {"content": text(5), "n": 1}, {"content": text(5), "n": 2},
            {"content": text(6), "n": 1}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run_cli("dedup", "--input", tmp_path / "in.jsonl", "--output", tmp_path / "out", "--text-field",
                   "content", "--quiet") == 0
    kept = read_table(tmp_path / "out", "records")
    assert sorted(r["content"] for r in kept) == sorted([text(5), text(6)])
    assert manifest_of(tmp_path / "out")["counters"]["filter/exact_dedup/duplicate"] == 2
    # The two identical records are one id (one row); the third has the same text, another id.
    clusters = read_table(tmp_path / "out", "clusters")
    assert len(clusters) == 2 and {len(r["id"]) for r in clusters} == {32}
    assert {r["cluster_size"] for r in clusters} == {3}


def test_disable_filter_turns_a_stage_off(dedup_input):
    out = run_dedup(dedup_input, "no-near", "--disable-filter", "near_dedup", "--disable-filter", "decontaminate")
    counters = manifest_of(out)["counters"]
    assert "filter/near_dedup/near_duplicate" not in counters and "filter/decontaminate/humaneval" not in counters
    assert {"a4", "c1"} <= {r["id"] for r in read_table(out, "records")}
    assert manifest_of(out)["accounting"]["records"]["holds"]


def test_clear_errors(dedup_input, tmp_path, capsys):
    args = ["dedup", "--input", dedup_input / "in", "--text-field", "content"]
    assert run_cli(*args[:-1], "text", "--output", tmp_path / "o1") == 2
    assert "--text-field 'text' is not a field of the input" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("dedup:\n  near_dedup:\n    bands: 20\n")
    assert run_cli(*args, "--output", tmp_path / "o2", "--config", bad) == 2
    assert "set both bands and rows" in capsys.readouterr().err
    bad.write_text("dedup:\n  decontaminate:\n    benchmarks: [{name: he, paths: [nowhere.jsonl]}]\n")
    assert run_cli(*args, "--output", tmp_path / "o3", "--config", bad) == 2
    assert "benchmark he: file not found" in capsys.readouterr().err
    assert run_cli(*args, "--output", tmp_path / "o4", "--disable-filter", "keep") == 2
    assert "unknown filter 'keep'" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_help_lists_the_job(capsys):
    assert run_cli("--help") == 0
    assert "dedup" in capsys.readouterr().out
    assert run_cli("dedup", "--help") == 0
    out = capsys.readouterr().out
    assert "--text-field" in out and "clusters/" in out and "near_dedup" in out
