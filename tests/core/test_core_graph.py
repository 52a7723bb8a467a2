"""core/graph.py: the star steps and union-find as plain functions, connected components as a
Beam transform against union-find, and the streaming join."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam

from codecorpus.core.graph import (ConnectedComponents, component_labels, large_star, orient, small_star,
                                   stream_join)
from codecorpus.core.routing import STATS
from codecorpus.jobs.runner import make_pipeline


def collect(pcoll, path: Path, label: str):
    return (pcoll | f"{label}ToList" >> beam.combiners.ToList()
            | f"{label}Write" >> beam.Map(lambda rows: path.write_text(json.dumps(rows, sort_keys=True, default=str))))


def test_star_steps_and_union_find_as_plain_functions():
    assert orient(("a", "b")) == ("b", "a") and orient(("b", "a")) == ("b", "a")
    # c's neighbours a, d, e: the larger ones (d, e) move to the smallest of all (a)
    assert list(large_star("c", iter(["d", "a", "e"]))) == [("d", "a"), ("e", "a")]
    assert list(large_star("a", ["c", "b"])) == [("c", "a"), ("b", "a")]   # unchanged: a is the smallest
    # d's smaller neighbours b, c: d and c move to b
    assert list(small_star("d", iter(["c", "b"]))) == [("d", "b"), ("c", "b")]
    assert component_labels([("b", "a"), ("d", "c"), ("e", "d"), ("f", "f")]) == {
        "a": "a", "b": "a", "c": "c", "d": "c", "e": "c", "f": "f"}


def run_components(tmp_path: Path, edges: list[tuple[str, str]], max_rounds: int) -> tuple[dict, dict]:
    pipeline, _ = make_pipeline([])
    with pipeline:
        out = pipeline | beam.Create(edges) | ConnectedComponents(max_rounds)
        collect(out["labels"], tmp_path / "labels.json", "Labels")
        collect(out[STATS] | beam.CombinePerKey(sum), tmp_path / "stats.json", "Stats")
    return (dict(json.loads((tmp_path / "labels.json").read_text())),
            dict(json.loads((tmp_path / "stats.json").read_text())))


def test_connected_components_match_union_find(tmp_path):
    rng = random.Random(11)
    nodes = [f"n{i:03d}" for i in range(300)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(260)]
    edges = [(a, b) for a, b in edges if a != b]
    path = [(f"p{i:03d}", f"p{i + 1:03d}") for i in range(40)][::-1]        # a long chain, listed backwards
    star = [("s000", f"s{i:03d}") for i in range(1, 60)]                     # one node of high degree
    labels, counters = run_components(tmp_path, edges + path + star, max_rounds=8)
    assert labels == component_labels(edges + path + star)
    assert counters["dedup/cc/unconverged_changes"] == 0 and counters["dedup/cc/round_01_changes"] > 0


def test_unconverged_components_are_counted_and_never_wrongly_merged(tmp_path):
    path = [(f"p{i:03d}", f"p{i + 1:03d}") for i in range(64)]
    labels, counters = run_components(tmp_path, path, max_rounds=1)
    assert counters["dedup/cc/unconverged_changes"] > 0
    assert all(label.startswith("p") and label <= node for node, label in labels.items())
    assert len(set(labels.values())) > 1                 # still split after one round: said, not hidden


def _pair(key, ones, many):
    yield key, (ones.get("one"), sorted(many))


def test_stream_join_meets_one_value_with_many(tmp_path):
    pipeline, _ = make_pipeline([])
    with pipeline:
        ones = pipeline | "Ones" >> beam.Create([("k", 1), ("j", 2), ("j", 0)])   # two for j: the smallest
        many = pipeline | "Many" >> beam.Create([("k", "a"), ("k", "b"), ("m", "c")])
        collect(stream_join("J", {"one": ones}, many, _pair).out, tmp_path / "out.json", "Out")
    assert sorted(map(tuple, json.loads((tmp_path / "out.json").read_text()))) == [
        ("j", [0, []]), ("k", [1, ["a", "b"]]), ("m", [None, ["c"]])]
