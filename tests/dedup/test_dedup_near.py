"""dedup/near.py, the near-duplicate engine: settings from either config section, the star of a
bucket as a plain function, and the whole chain (sign -> buckets -> stars -> verify) in Beam."""

from __future__ import annotations

import json
import random

import apache_beam as beam
import pytest

from codecorpus.config import ConfigError, default_config
from codecorpus.core.routing import STATS
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.near import (GIANT_BUCKETS, NearDuplicateEdges, NearSettings, SignTexts, is_match,
                                   star_edges)
from codecorpus.jobs.runner import make_pipeline

DEDUP = default_config()["dedup"]["near_dedup"]


def test_settings_come_from_the_section_and_nowhere_else():
    s = NearSettings.from_config(DEDUP, "dedup.near_dedup")
    assert s.minhash == (DEDUP["num_perm"], DEDUP["ngram"], DEDUP["seed"]) and s.bucket_cap == DEDUP["bucket_cap"]
    assert (s.bands, s.rows) == mh.optimal_bands(DEDUP["threshold"], DEDUP["num_perm"], DEDUP["fp_weight"],
                                                 DEDUP["fn_weight"])
    heavy_fn = NearSettings.from_config({**DEDUP, "fn_weight": 0.9, "fp_weight": 0.1}, "dedup.near_dedup")
    assert (heavy_fn.bands, heavy_fn.rows) != (s.bands, s.rows)     # the section's weights choose the bands
    with pytest.raises(AttributeError):
        s.threshold = 0.5                                           # frozen
    with pytest.raises(ConfigError, match=r"dedup.near_dedup.bucket_cap must be an integer >= 2"):
        NearSettings.from_config({**DEDUP, "bucket_cap": 1}, "dedup.near_dedup")


def test_a_bucket_is_a_star_around_its_smallest_member_and_a_giant_one_is_split():
    assert list(star_edges(iter(["c", "a", "b"]), cap=10)) == [("c", "a"), ("b", "a")]
    assert list(star_edges(["a"], cap=10)) == []
    members = [f"m{i:03d}" for i in range(50)]
    out = list(star_edges(members, cap=10))
    edges = [e for e in out if isinstance(e, tuple)]
    counters = [e.value for e in out if not isinstance(e, tuple)]
    assert (GIANT_BUCKETS, 1) in counters and ("dedup/near/giant_bucket_members", 50) in counters
    centres = {b for _, b in edges}
    assert len(centres) <= 1 + 5 and all(a != b for a, b in edges)
    assert {a for a, _ in edges} | {"m000"} == set(members)        # every member linked, once


def test_the_chain_finds_verified_near_duplicates(tmp_path):
    rng = random.Random(3)
    base = [f"t{rng.randrange(20000)}" for _ in range(400)]
    edited = list(base)
    for i in rng.sample(range(400), 8):
        edited[i] = "x"
    texts = [("a", " ".join(base)), ("b", " ".join(edited)), ("c", " ".join(f"u{i}" for i in range(400))),
             ("d", "too short")]
    settings = NearSettings.from_config(DEDUP, "dedup.near_dedup")
    pipeline, _ = make_pipeline([])
    with pipeline:
        sigs = pipeline | beam.Create(texts) | SignTexts(settings, short=False)
        found = sigs | NearDuplicateEdges(settings)
        for name, pcoll in (("edges", found["edges"]), ("stats", found[STATS] | beam.CombinePerKey(sum))):
            _ = (pcoll | f"{name}List" >> beam.combiners.ToList()
                 | f"{name}Write" >> beam.Map(lambda x, p=tmp_path / f"{name}.json": p.write_text(json.dumps(x))))
    assert [tuple(e) for e in json.loads((tmp_path / "edges.json").read_text())] == [("b", "a")]
    stats = dict(json.loads((tmp_path / "stats.json").read_text()))
    assert stats["dedup/near/verified_edges"] == 1
    hasher = mh.MinHasher(*settings.minhash)
    sig = mh.signature_bytes(hasher.signature(" ".join(base)))
    assert is_match(sig, sig, 0.99) and not is_match(sig, None, 0.1)
