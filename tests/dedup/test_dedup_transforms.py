"""The Beam dedup transforms on small inputs made to show each behaviour: identical documents,
near documents just above and below the threshold, a chain A~B~C with A and C dissimilar, a
giant LSH bucket, empty and tiny documents, decontamination per benchmark, verification, and
connected components against union-find."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
import pytest

from codecorpus.config import load_config
from codecorpus.jobs.runner import make_pipeline
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.deduplicate import CLUSTERS, Deduplicate
from codecorpus.core.routing import DEAD_LETTER, STATS

VOCAB = [f"tok{i}" for i in range(20000)]
HASHER = mh.MinHasher()


def words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def replace_some(toks: list[str], share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = list(toks)
    for i in rng.sample(range(len(out)), int(share * len(out))):
        out[i] = rng.choice(VOCAB)
    return out


def jaccard(a: str, b: str) -> float:
    return mh.exact_jaccard(HASHER.shingle_set(a), HASHER.shingle_set(b))


def collect(pcoll, path: Path, label: str):
    return (pcoll | f"{label}ToList" >> beam.combiners.ToList()
            | f"{label}Write" >> beam.Map(lambda rows: path.write_text(json.dumps(rows, sort_keys=True, default=str))))


def run_dedup(tmp_path: Path, records: list[dict], config: dict, text_field="content", id_field="id",
              table="records") -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    pipeline, _ = make_pipeline([])
    with pipeline:
        outputs = (pipeline | "Records" >> beam.Create(records)
                   | "Deduplicate" >> Deduplicate(text_field, id_field, config, table=table))
        collect(outputs["kept"], tmp_path / "kept.json", "Kept")
        collect(outputs[CLUSTERS], tmp_path / "clusters.json", "Clusters")
        collect(outputs[DEAD_LETTER], tmp_path / "dead.json", "Dead")
        collect(outputs[STATS] | beam.CombinePerKey(sum), tmp_path / "stats.json", "Stats")
    load = lambda name: json.loads((tmp_path / f"{name}.json").read_text())  # noqa: E731
    return {"kept": load("kept"), "clusters": {r["id"]: r for r in load("clusters")}, "dead": load("dead"),
            "counters": dict(load("stats"))}


def config_with(**sections) -> dict:
    config = load_config()
    for section, values in sections.items():
        config["dedup"][section].update(values)
    return config


# --- one run over every case -------------------------------------------------------------------

BENCH_HUMANEVAL = "def incr_list(l: list):\n    \"\"\"Return list with elements incremented by 1.\n    >>> incr_list([1, 2, 3])\n    [2, 3, 4]\n    \"\"\"\n    return [(e + 1) for e in l]\n"
BENCH_MBPP = "Write a python function to find the first repeated character in a given string and return it"


def make_cases() -> tuple[list[dict], dict]:
    texts = {}
    lines = [" ".join(words(10, 1000 + i)) for i in range(30)]
    texts["ident-1"] = texts["ident-2"] = texts["ident-3"] = "\n".join(lines) + "\n"
    texts["ident-4"] = "  \r\n".join(lines) + "\r\n\r\n"   # CRLF and trailing blanks: the same once normalised
    near = words(400, 2)
    texts["above-a"], texts["above-b"] = " ".join(near), " ".join(replace_some(near, 0.022, 3))
    far = words(400, 4)
    texts["below-a"], texts["below-b"] = " ".join(far), " ".join(replace_some(far, 0.05, 5))
    segments = [words(30, 400 + i) for i in range(12)]
    for name, start in (("chain-a", 0), ("chain-b", 1), ("chain-c", 2)):
        texts[name] = " ".join(w for seg in segments[start:start + 10] for w in seg)
    giant = words(300, 6)
    for i in range(10):
        texts[f"giant-{i:02d}"] = " ".join(giant + [f"unique{i}"])
    texts.update({"empty-1": "", "empty-2": "  \n ", "tiny-1": "x", "tiny-2": "x", "tiny-3": "y",
                  "tiny-4": "a b", "tiny-5": "a c"})
    texts["contam-1"] = "# helper\n" + BENCH_HUMANEVAL + "\nprint(incr_list([0]))\n"
    texts["contam-2"] = f"# {BENCH_MBPP}\n" + BENCH_HUMANEVAL
    records = [{"id": i, "content": t, "license": None} for i, t in texts.items()]
    for r in records:
        if r["id"] in ("ident-2", "chain-a"):
            r["license"] = "mit"        # the keep rule prefers a licensed record
    records += [{"id": "null-1", "content": None, "license": None},
                {"id": "bad-1", "license": "mit"},                                   # no text field
                {"id": "dupid", "content": "one text", "license": None},
                {"id": "dupid", "content": "another text", "license": None}]          # an id used twice
    return records, texts


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cases")
    (tmp / "humaneval.jsonl").write_text(json.dumps({"prompt": BENCH_HUMANEVAL}) + "\n")
    (tmp / "mbpp.jsonl").write_text(json.dumps({"text": BENCH_MBPP}) + "\n")
    config = config_with(
        near_dedup={"bucket_cap": 4},
        decontaminate={"benchmarks": [{"name": "humaneval", "paths": [str(tmp / "humaneval.jsonl")], "fields": None},
                                      {"name": "mbpp", "paths": [str(tmp / "mbpp.jsonl")], "fields": ["text"]}]})
    records, texts = make_cases()
    return run_dedup(tmp, records, config), records, texts


def kept_ids(result) -> set:
    return {r["id"] for r in result["kept"]}


def test_the_cases_are_what_they_claim(cases):
    _, _, texts = cases
    assert 0.75 <= jaccard(texts["above-a"], texts["above-b"]) <= 0.85
    assert 0.55 <= jaccard(texts["below-a"], texts["below-b"]) <= 0.67
    assert jaccard(texts["chain-a"], texts["chain-b"]) >= 0.8 and jaccard(texts["chain-b"], texts["chain-c"]) >= 0.8
    assert jaccard(texts["chain-a"], texts["chain-c"]) < 0.7
    # LSH finds a pair this similar 97 % of the time: these two links are among the found.
    sig = {k: mh.signature_bytes(HASHER.signature(texts[f"chain-{k}"])) for k in "abc"}
    assert set(mh.band_keys(sig["a"], 25, 10)) & set(mh.band_keys(sig["b"], 25, 10))
    assert set(mh.band_keys(sig["b"], 25, 10)) & set(mh.band_keys(sig["c"], 25, 10))
    assert mh.jaccard_estimate(sig["a"], sig["c"]) < 0.7
    assert jaccard(texts["giant-00"], texts["giant-09"]) > 0.95


def test_accounting_identity(cases):
    result, records, _ = cases
    c = result["counters"]
    dropped = sum(v for k, v in c.items() if k.startswith("filter/"))
    assert len(records) == len(result["kept"]) + dropped + len(result["dead"])
    assert sum(v for k, v in c.items() if k.startswith("dead_letter/records/")) == len(result["dead"])


def test_identical_documents_keep_one_by_the_keep_rule(cases):
    result, _, _ = cases
    assert "ident-2" in kept_ids(result) and not {"ident-1", "ident-3", "ident-4"} & kept_ids(result)
    for i in (1, 3, 4):
        row = result["clusters"][f"ident-{i}"]
        assert (row["cluster_id"], row["kept"], row["match"], row["jaccard"]) == ("ident-2", False, "exact", 1.0)
    assert result["clusters"]["ident-2"] == {"id": "ident-2", "cluster_id": "ident-2", "cluster_size": 4,
                                             "kept": True, "match": "kept", "jaccard": 1.0}


def test_near_documents_just_above_and_below_the_threshold(cases):
    result, _, _ = cases
    assert {"above-a", "below-a", "below-b"} <= kept_ids(result) and "above-b" not in kept_ids(result)
    row = result["clusters"]["above-b"]
    assert row["cluster_id"] == "above-a" and row["match"] == "near" and 0.7 <= row["jaccard"] < 1
    assert "below-a" not in result["clusters"] and "below-b" not in result["clusters"]


def test_a_chain_is_one_cluster_and_says_so(cases):
    result, _, texts = cases
    assert "chain-a" in kept_ids(result) and not {"chain-b", "chain-c"} & kept_ids(result)
    rows = {i: result["clusters"][f"chain-{i}"] for i in "abc"}
    assert {r["cluster_id"] for r in rows.values()} == {"chain-a"} and rows["a"]["cluster_size"] == 3
    # C is in A's cluster only through B: its similarity to the kept record is below the threshold.
    assert rows["b"]["jaccard"] >= 0.7 and rows["c"]["jaccard"] < 0.7
    assert abs(rows["c"]["jaccard"] - jaccard(texts["chain-a"], texts["chain-c"])) < 0.1
    assert result["counters"]["dedup/near/linked_below_threshold"] == 1


def test_a_giant_bucket_is_split_counted_and_still_one_cluster(cases):
    result, _, _ = cases
    giants = [f"giant-{i:02d}" for i in range(10)]
    assert len(set(giants) & kept_ids(result)) == 1
    assert {result["clusters"][g]["cluster_id"] for g in giants} == {"giant-00"}   # all equally long: smallest id
    c = result["counters"]
    assert c["dedup/near/giant_buckets"] >= 1          # buckets of 10 members, cap 4
    # a bucket holds the 10 giants, or the 9 or 8 whose appended word left this band alone
    assert 8 * c["dedup/near/giant_buckets"] <= c["dedup/near/giant_bucket_members"] <= 10 * c["dedup/near/giant_buckets"]


def test_empty_tiny_and_null_documents(cases):
    result, _, _ = cases
    kept = kept_ids(result)
    assert len({"empty-1", "empty-2"} & kept) == 1 and len({"tiny-1", "tiny-2"} & kept) == 1
    assert {"tiny-3", "tiny-4", "tiny-5", "null-1"} <= kept        # "a b" and "a c" share no shingle
    assert result["clusters"]["tiny-2"]["cluster_id"] == "tiny-1"
    c = result["counters"]
    assert c["dedup/no_text"] == 1 and c["dedup/near/no_tokens"] == 2


def test_decontamination_counted_per_benchmark(cases):
    result, _, _ = cases
    assert not {"contam-1", "contam-2"} & kept_ids(result)
    c = result["counters"]
    assert c["filter/decontaminate/humaneval"] == 2 and "filter/decontaminate/mbpp" not in c  # first match counts
    assert c["decontaminate/humaneval/matched"] == 2 and c["decontaminate/mbpp/matched"] == 1


def test_bad_records_are_dead_letters(cases):
    result, _, _ = cases
    errors = sorted((d["stage"], d["key"], d["error"]) for d in result["dead"])
    shared = "id 'dupid' is shared by 2 different records; ids must be unique"
    assert errors == [("dedup", "bad-1", "ValueError: record has no text field 'content'"),
                      ("dedup", "dupid", shared), ("dedup", "dupid", shared)]
    assert result["counters"]["filter/exact_dedup/duplicate"] == 5       # ident x3, empty, tiny
    assert result["counters"]["filter/near_dedup/near_duplicate"] == 1 + 2 + 9


# --- verification, the commitpack drop-in --------------------------------------------


def test_verification_rejects_candidates_below_the_threshold(tmp_path):
    far = words(400, 4)
    records = [{"id": "a", "content": " ".join(far)}, {"id": "b", "content": " ".join(replace_some(far, 0.06, 5))}]
    assert 0.5 < jaccard(records[0]["content"], records[1]["content"]) < 0.65
    # 64 bands of 4 rows: pairs this similar always share a band, so only verification decides.
    loose = {"bands": 64, "rows": 4}
    verified = run_dedup(tmp_path / "on", records, config_with(near_dedup=loose))
    assert len(verified["kept"]) == 2 and verified["clusters"] == {}
    assert verified["counters"]["dedup/near/rejected_edges"] == 1
    unverified = run_dedup(tmp_path / "off", records, config_with(near_dedup={**loose, "verify": False}))
    assert [r["id"] for r in unverified["kept"]] == ["a"]
    assert unverified["clusters"]["b"]["jaccard"] < 0.7


def test_deduplicate_drops_into_the_commit_job(tmp_path):
    """commitpack rows deduplicated on ``new_contents`` by commit sha, dead letters for table
    ``commits``: the counters are ``filter/...`` so the commit job's identity still holds."""
    code = "".join(f"def fetch_{i}(url, retries={i}):\n    return get(url, retries=retries + {i})\n" for i in range(20))
    row = {"old_file": "a.py", "new_file": "a.py", "old_contents": "", "subject": "Add retries", "message": "Add",
           "lang": "Python", "license": "mit", "repos": "acme/tool"}
    records = [{**row, "commit": "c1", "new_contents": code}, {**row, "commit": "c2", "new_contents": code},
               {**row, "commit": "c3", "new_contents": code.replace("retries=3)", "retries=5)")},
               {**row, "commit": None, "new_contents": "x"}]
    result = run_dedup(tmp_path, records, load_config(), text_field="new_contents", id_field="commit",
                       table="commits")
    assert [r["commit"] for r in result["kept"]] == ["c1"]
    assert result["counters"]["filter/exact_dedup/duplicate"] == 1
    assert result["counters"]["filter/near_dedup/near_duplicate"] == 1
    assert [(d["table"], d["stage"]) for d in result["dead"]] == [("commits", "dedup")]
    assert result["counters"]["dead_letter/commits/dedup"] == 1


def test_the_text_can_be_a_function_of_the_record(tmp_path):
    """The commit job compares the lines a commit changes without adding them to the record."""
    code = "".join(f"def fetch_{i}(url, retries={i}):\n    return get(url, retries=retries + {i})\n" for i in range(20))
    records = [{"commit": "c1", "old": "", "new": code}, {"commit": "c2", "old": "", "new": code},
               {"commit": "c3", "old": "x = 1\n", "new": "x = 2\n"}]
    def change(row):
        return row["old"] + "\n---\n" + row["new"]

    by_field = run_dedup(tmp_path / "field", [{**r, "text": change(r)} for r in records], load_config(),
                         text_field="text", id_field="commit")
    by_function = run_dedup(tmp_path / "fn", records, load_config(), text_field=change, id_field="commit")
    assert by_function["clusters"] == by_field["clusters"] and by_function["counters"] == by_field["counters"]
    assert [r["commit"] for r in by_function["kept"]] == ["c1", "c3"]
    assert by_function["kept"][0] == records[0]            # the record as it came: no text field added
