"""The mix job's parts without the job: rendering, seeded choices, shard layout, packing, and the
cross-split near-duplicate check in a small pipeline."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest
import yaml
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from codecorpus.config import ConfigError, load_config, merge
from codecorpus.io.shards import BalancedShards, bucket_of, bucket_offsets
from codecorpus.jobs.runner import make_local_runner
from codecorpus.dedup import minhash as mh
from codecorpus.mix import mixing
from codecorpus.mix.leakage import CrossSplitNearDuplicates, eval_train_pairs, node
from codecorpus.mix.tokens import (Packer, TokenizeRows, encode_texts, ids_from_bytes, load_tokenizer, pack_documents, token_id)

SECTION = load_config()["mix"]["leakage_check"]


def pipeline() -> beam.Pipeline:
    return beam.Pipeline(runner=make_local_runner(PipelineOptions([])))


# --- rendering --------------------------------------------------------------------------------------


def source(**entry) -> mixing.Source:
    return mixing.parse_sources({"sources": [{"name": "s", "path": "p", **entry}]})[0]


def test_chat_rendering_splits_prompt_and_completion_at_the_reply():
    s = source(kind="commitpack")
    row = {"commit": "c1", "subject": "Fix it", "old_contents": "a = 1\n", "new_contents": "a = 2\n",
           "repos": "o/r", "new_file": "x.py", "license": "mit", "lang": "Python"}
    out = mixing.render(row, s, {"turn": "<s>{role}: {content}</s>\n", "system": "Be brief."})
    assert out["messages"] == [{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Fix it\na = 1\n"},
                               {"role": "assistant", "content": "a = 2\n"}]
    assert out["prompt"] == "<s>system: Be brief.</s>\n<s>user: Fix it\na = 1\n</s>\n<s>assistant: "
    assert out["completion"] == "a = 2\n</s>\n" and out["text"] == out["prompt"] + out["completion"]
    assert (out["id"], out["repo"], out["path"], out["_member"], out["_file"]) == ("s/c1", "o/r", "x.py", "c1", "o/r:x.py")


def test_templates_render_nulls_and_lists_and_hash_ids_when_none_is_set():
    s = source(kind="custom", text="{title}\n{lines}")
    row = {"title": None, "lines": ["a", "b", None]}
    out = mixing.render(row, s, mixing.CHATML)
    assert out["text"] == "\na\nb\n"
    assert out["id"].startswith("s/") and len(out["id"]) == 2 + 32
    assert mixing.render(dict(row), s, mixing.CHATML)["id"] == out["id"]  # stable
    with pytest.raises(ValueError, match="missing"):
        mixing.render({"lines": []}, s, mixing.CHATML)


def test_provenance_and_where_are_checked_against_the_columns():
    s = source(kind="fim", where={"mode": ["psm", "spm"]})
    assert mixing.matches(s.where, {"mode": "spm"}) and not mixing.matches(s.where, {"mode": "none"})
    with pytest.raises(ConfigError, match="mode"):
        mixing.check_columns(s, {"repo", "ref", "path", "chunk", "text", "license", "lang"})
    with pytest.raises(ConfigError, match="provenance"):
        source(kind="fim", provenance={"author": "{x}"})


def test_splits_and_copies_are_seeded_and_follow_the_fractions():
    fractions = {"train": 0.8, "validation": 0.15, "test": 0.05}
    splits = Counter(mixing.split_of(f"g{i}", 3, fractions) for i in range(20_000))
    assert splits["validation"] / 20_000 == pytest.approx(0.15, abs=0.01)
    assert splits["test"] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert [mixing.split_of(f"g{i}", 3, fractions) for i in range(50)] == \
        [mixing.split_of(f"g{i}", 3, fractions) for i in range(50)]
    copies = [mixing.copies_of(2.25, 1, "s", f"r{i}", "train") for i in range(20_000)]
    assert set(copies) == {2, 3} and sum(copies) / len(copies) == pytest.approx(2.25, abs=0.02)
    assert {mixing.copies_of(2.25, 1, "s", f"r{i}", "validation") for i in range(100)} == {1}
    assert sum(mixing.copies_of(0.1, 1, "s", f"r{i}", "test") for i in range(20_000)) == pytest.approx(2_000, rel=0.1)


def test_sampling_rates_for_weights_repeats_and_targets():
    weighted = [source(kind="fim", weight=3), ]
    two = mixing.parse_sources({"sources": [{"name": "a", "path": "p", "kind": "fim", "weight": 3},
                                            {"name": "b", "path": "p", "kind": "fim", "weight": 1}]})
    # largest total without repeating: a has 300 rows for 75 %, b 1000 rows for 25 % -> total 400
    rates = mixing.sampling_rates(two, {"a": (300, 0), "b": (1000, 0)}, {"total": None})
    assert rates == pytest.approx({"a": 1.0, "b": 0.1})
    assert mixing.sampling_rates(two, {"a": (0, 0), "b": (1000, 0)}, {"total": None}) == {"a": 0.0, "b": 1.0}
    rates = mixing.sampling_rates(two, {"a": (300, 3000), "b": (1000, 1000)}, {"total": 8000, "weight_unit": "tokens"})
    assert rates == pytest.approx({"a": 2.0, "b": 2.0})
    fixed = mixing.parse_sources({"sources": [{"name": "a", "path": "p", "kind": "fim", "repeat": 2.5},
                                              {"name": "b", "path": "p", "kind": "fim", "target_rows": 50},
                                              {"name": "c", "path": "p", "kind": "fim", "target_tokens": 10}]})
    assert mixing.sampling_rates(fixed, {"a": (10, 0), "b": (200, 0), "c": (0, 0)}, {}) == {"a": 2.5, "b": 0.25, "c": 0.0}
    assert weighted[0].amount == ("weight", 3)
    with pytest.raises(ConfigError, match="every source or to none"):
        mixing.parse_sources({"sources": [{"name": "a", "path": "p", "kind": "fim", "weight": 1},
                                          {"name": "b", "path": "p", "kind": "fim"}]})


@pytest.mark.parametrize("amount", ["weight: .inf", "repeat: .nan", "target_rows: -.inf", "target_tokens: .inf"])
def test_non_finite_amounts_are_refused(amount):
    """14.12: `weight: .inf` crashed inside the pipeline (`cannot convert float NaN to integer`)."""
    entry = yaml.safe_load(f"{{name: s, path: p, kind: fim, {amount}}}")
    with pytest.raises(ConfigError, match="finite number >= 0"):
        mixing.parse_sources({"sources": [entry]})


def test_readme_join_with_an_unquoted_on_key():
    """PyYAML reads the key `on` as True: the README's `join: {… on: db_id …}` gave a ConfigError."""
    entry = yaml.safe_load("{name: t, path: p, kind: sql_triples, "
                           "join: {path: out/sql/sql_databases, on: db_id, columns: [ddl]}}")
    assert True in entry["join"]  # what YAML 1.1 makes of it
    (parsed,) = mixing.parse_sources({"sources": [entry]})
    assert parsed.join == {"path": "out/sql/sql_databases", "on": "db_id", "columns": ["ddl"]}
    with pytest.raises(ConfigError, match="`join` must be"):
        mixing.parse_sources({"sources": [{**entry, "join": {"path": "x", True: "id", "columns": []}}]})


def test_output_size_is_estimated_from_the_plan_and_bounded(tmp_path):
    """14.12: `repeat: 1.0e+7` on 40 rows was OOM-killed after three minutes; now the plan's
    estimate is checked against mix.max_output_rows before anything runs."""
    import gzip
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from codecorpus.mix import plan as mixture

    pq.write_table(pa.table({"text": [f"row {i}" for i in range(40)]}), tmp_path / "a.parquet")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "rows.jsonl.gz").write_bytes(gzip.compress(
        b"".join(json.dumps({"text": f"b {i}"}).encode() + b"\n\n" for i in range(10))))  # blank lines: no rows
    mix = merge(load_config(), {"mix": {"sources": [
        {"name": "a", "path": str(tmp_path / "a.parquet"), "kind": "custom", "repeat": 1.0e7},
        {"name": "b", "path": str(tmp_path / "b"), "kind": "custom", "target_rows": 25}]}})["mix"]
    with pytest.raises(ConfigError) as refused:
        mixture.plan_inputs(mix, {})
    message = str(refused.value)
    assert "about 400,000,025 rows" in message and "a: 40 rows x rate 1e+07 = 400,000,000" in message
    assert "b: 10 rows x rate 2.5 = 25" in message and "mix.max_output_rows (100,000,000)" in message
    plan = mixture.plan_inputs({**mix, "max_output_rows": None}, {})
    assert plan.estimate["rows"] == 400_000_025 and plan.describe()["estimate"] == plan.estimate
    mix["sources"][0]["repeat"] = 2
    assert mixture.plan_inputs(mix, {}).estimate["rows"] == 105
    with pytest.raises(ConfigError, match="mix.max_output_rows must be"):
        mixture.plan_inputs({**mix, "max_output_rows": "lots"}, {})
    with pytest.raises(ConfigError, match="mix.total must be"):
        mixture.plan_inputs({**mix, "total": float("inf")}, {})


def test_token_amounts_are_estimated_from_sampled_rows(tmp_path, tiny_tokenizer):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from codecorpus.mix import plan as mixture
    from codecorpus.mix.tokens import load_tokenizer

    texts = [f"def f{i}(a, b):\n    return a + b\n" for i in range(30)]
    pq.write_table(pa.table({"text": texts}), tmp_path / "a.parquet")
    mix = merge(load_config(), {"mix": {"tokenizer": str(tiny_tokenizer), "max_output_rows": 1000, "sources": [
        {"name": "a", "path": str(tmp_path / "a.parquet"), "kind": "custom", "target_tokens": 10**9}]}})["mix"]
    tokens = sum(len(ids) for ids in encode_texts(load_tokenizer(str(tiny_tokenizer)), texts))
    with pytest.raises(ConfigError, match="a: 30 rows x rate") as refused:
        mixture.plan_inputs(mix, {})
    rows = 30 * 10**9 / tokens
    assert f"about {rows:,.0f} rows" in str(refused.value)


def test_default_config_has_a_valid_chat_template():
    mixing.check_chat_template(load_config()["mix"]["chat_template"])
    with pytest.raises(ConfigError):
        mixing.check_chat_template({"turn": "{role}{content}{content}"})


# --- shards -------------------------------------------------------------------------------------------


def test_bucket_ranges_are_ordered_and_offsets_are_prefix_sums():
    rng = random.Random(0)
    keys = sorted(rng.getrandbits(64) for _ in range(1000))
    buckets = [bucket_of(k, 7) for k in keys]
    assert buckets == sorted(buckets) and set(buckets) == set(range(7))
    assert bucket_offsets({2: 5, 0: 3, 5: 1}) == {0: 0, 2: 3, 5: 8}


@pytest.mark.parametrize("rows, shards, bucket_rows", [(103, 7, 10), (5, 3, 1), (40, 40, 3), (10, 4, 1000)])
def test_balanced_shards_cut_the_key_order_into_equal_runs(rows, shards, bucket_rows):
    rng = random.Random(rows)
    data = [{"_key": rng.getrandbits(64), "id": f"r{i}"} for i in range(rows)]
    with pipeline() as p:
        out = (p | beam.Create(data) | BalancedShards(shards, 1 << 30, bucket_rows=bucket_rows)
               | beam.Map(lambda e: (e[0], e[1], [r["id"] for r in e[2]])))

        def check(elements):
            elements = sorted(elements)
            sizes = [len(ids) for _, _, ids in elements]
            assert [s for s, _, _ in elements] == list(range(min(shards, rows)))
            assert {n for _, n, _ in elements} == {min(shards, rows)}
            assert max(sizes) - min(sizes) <= 1 and sum(sizes) == rows
            order = [i for _, _, ids in elements for i in ids]
            assert order == [r["id"] for r in sorted(data, key=lambda r: r["_key"])]

        assert_that(out, check)


def test_balanced_shards_give_back_packed_text_fields_exactly():
    # the text crosses GroupShard compressed (core.blobs) and comes back as it was, in key order
    rng = random.Random(5)
    data = [{"_key": rng.getrandbits(64), "id": f"r{i}", "text": f"def f{i}():\n    return {i}\n" * (i % 7),
             "prompt": None} for i in range(60)]
    with pipeline() as p:
        out = p | beam.Create(data) | BalancedShards(3, 1 << 30, packed=("text", "prompt"))

        def check(elements):
            rows = [r for _, _, shard in sorted(elements) for r in shard]
            assert rows == sorted(data, key=lambda r: (r["_key"], r["id"]))

        assert_that(out, check)


# --- tokens and packing -------------------------------------------------------------------------------


def test_packing_keeps_every_token_in_order_and_marks_documents():
    docs = [(f"d{i}", list(range(i * 100, i * 100 + n))) for i, n in enumerate([3, 9, 1, 20, 4])]
    sequences = list(pack_documents(docs, seq_len=8, eos_id=-1, pad_id=-2))
    assert all(len(s["input_ids"]) == 8 for s in sequences)
    stream = [t for s in sequences for t in s["input_ids"][:s["num_tokens"]]]
    assert stream == [t for _, ids in docs for t in ids + [-1]]
    assert sequences[-1]["input_ids"][sequences[-1]["num_tokens"]:] == [-2] * (8 - sequences[-1]["num_tokens"])
    # d3 (20 tokens + EOS) runs over three sequences: the later pieces say they continue it
    pieces = [(s["doc_ids"][i], s["doc_starts"][i], s["continues"] and i == 0)
              for s in sequences for i in range(len(s["doc_ids"]))]
    assert [p for p in pieces if p[0] == "d3"][1:] == [("d3", 0, True), ("d3", 0, True)]
    assert sequences[0]["doc_ids"] == ["d0", "d1"] and sequences[0]["doc_starts"] == [0, 4]
    assert not sequences[0]["continues"]


def test_packing_drops_the_remainder_when_asked_and_counts_it():
    packer = Packer(seq_len=4, eos_id=None, pad_id=0, remainder="drop")
    out = packer.add("a", [1, 2, 3, 4, 5]) + packer.finish()
    assert [s["input_ids"] for s in out] == [[1, 2, 3, 4]] and packer.dropped_tokens == 1 and packer.documents == 1
    with pytest.raises(ValueError):
        Packer(seq_len=1, eos_id=None, pad_id=0)


def test_tokenizer_loads_from_a_file_and_counts(tiny_tokenizer, tmp_path):
    tokenizer = load_tokenizer(tiny_tokenizer)
    ids = encode_texts(tokenizer, ["def add(a, b):", None, ""])
    assert ids[1] == [] and ids[2] == [] and tokenizer.decode(ids[0]) == "def add(a, b):"
    assert token_id(tokenizer, "<|endoftext|>") == 0
    with pytest.raises(ValueError, match="no token"):
        token_id(tokenizer, "<nope>")
    with pytest.raises(FileNotFoundError):
        load_tokenizer(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="tokenizer.json"):
        load_tokenizer(str(tmp_path / "bad.json"))


def test_tokenize_rows_dofn_counts_in_batches_and_pickles_light(tiny_tokenizer):
    fn = TokenizeRows(tiny_tokenizer, ids_field="_ids", batch_size=3)
    assert len(pickler.dumps(fn)) < 10_000
    tokenizer = load_tokenizer(tiny_tokenizer)
    rows = [{"id": i, "text": f"def f{i}(x):\n    return x + {i}\n" * (i % 3)} for i in range(7)]
    expected = [(r["id"], len(tokenizer.encode(r["text"], add_special_tokens=False).ids),
                 tokenizer.encode(r["text"], add_special_tokens=False).ids) for r in rows]
    with pipeline() as p:
        out = (p | beam.Create(rows) | beam.ParDo(fn)
               | beam.Map(lambda r: (r["id"], r["num_tokens"], ids_from_bytes(r["_ids"]))))
        assert_that(out, equal_to(expected))


# --- cross-split near-duplicates ------------------------------------------------------------------------


def _code(seed: int, lines: int = 30) -> str:
    rng = random.Random(seed)
    return "".join(f"value_{rng.randrange(10**6)} = compute(alpha_{rng.randrange(999)}, beta)\n" for _ in range(lines))


def test_near_duplicates_across_splits_are_found_and_within_train_are_not():
    base, other = _code(1), _code(2)
    edited = base.replace("beta)\n", "gamma)\n", 1)
    hasher = mh.MinHasher(128, 5, 42)
    assert mh.exact_jaccard(hasher.shingle_set(base), hasher.shingle_set(edited)) > 0.8
    rows = [("train", "t1", base), ("train", "t2", edited),          # a pair inside train: not leakage
            ("validation", "v1", edited), ("test", "x1", base),      # an edit and a copy of a train row
            ("validation", "v2", other), ("test", "x2", _code(3))]   # unrelated
    with pipeline() as p:
        stats = p | beam.Create(rows) | CrossSplitNearDuplicates({**SECTION, "num_perm": 128}) | beam.CombinePerKey(sum)
        assert_that(stats, lambda pairs: _check_counts(dict(pairs)))


def _check_counts(counts):
    assert counts["leakage/near/validation_rows_with_train_match"] == 1
    assert counts["leakage/near/test_rows_with_train_match"] == 1
    assert counts["leakage/near/cross_split_pairs"] == 4     # v1 and x1 each match t1 and t2
    assert counts["leakage/near/rows_checked"] == 6
    assert counts["leakage/near/giant_buckets"] == 0


def test_every_leakage_counter_is_present_without_eval_rows():
    with pipeline() as p:
        stats = (p | beam.Create([("train", "a", _code(1)), ("train", "b", _code(1))])
                 | CrossSplitNearDuplicates(SECTION) | beam.CombinePerKey(sum))
        assert_that(stats, equal_to([("leakage/near/validation_rows_with_train_match", 0),
                                     ("leakage/near/test_rows_with_train_match", 0),
                                     ("leakage/near/cross_split_pairs", 0), ("leakage/near/rows_checked", 2),
                                     ("leakage/near/giant_buckets", 0)]))


def test_bucket_pairs_only_cross_the_train_boundary_and_are_capped():
    members = [node("train", "a"), node("train", "b"), node("validation", "c"), node("test", "d")]
    pairs, cut = eval_train_pairs(members, cap=10)
    assert sorted(pairs) == sorted([(node("validation", "c"), node("train", "a")), (node("validation", "c"),
                                                                                    node("train", "b")),
                                    (node("test", "d"), node("train", "a")), (node("test", "d"), node("train", "b"))])
    assert not cut
    assert eval_train_pairs(members, cap=2)[1]


def test_the_readme_demo_mixture_is_a_valid_config():
    path = Path(__file__).resolve().parents[2] / "docs" / "mixture-demo.yaml"
    config = merge(load_config(), yaml.safe_load(path.read_text()))
    sources = mixing.parse_sources(config["mix"])
    assert [(s.name, s.kind, s.amount) for s in sources] == [("commits", "commitpack", ("repeat", 2)),
                                                              ("instructions", "instructions", ("repeat", 1)),
                                                              ("fim", "fim", ("repeat", 1))]
