"""The semi-join before the contents join (issue 19, item 3, ``core.semijoin``): only blobs some
candidate commit names go on; the fingerprint set is exact for every requested id; the counters add up."""

from __future__ import annotations

import json
import random
from pathlib import Path

import apache_beam as beam
import numpy as np

from codecorpus.commits import commitpack as cp
from codecorpus.core import semijoin as sj
from codecorpus.core.routing import DEAD_LETTER, STATS
from codecorpus.jobs.runner import make_pipeline


def sha(rng: random.Random) -> str:
    return "%040x" % rng.getrandbits(160)


def commit(n: int, old: str, new: str) -> dict:
    return {"commit": f"c{n:039d}", "repo_name": ["o/r"],
            "difference": [{"old_path": "a.py", "new_path": "a.py", "old_sha1": old, "new_sha1": new}]}


def test_fingerprint_set_is_the_sorted_distinct_fingerprints_however_accumulated():
    rng = random.Random(1)
    ids = [sha(rng) for _ in range(5000)]
    ids += ids[:700]  # requested twice
    fps = [sj.blob_fingerprint(i) for i in ids]
    combine = sj.FingerprintSet(compact_every=97)  # many compactions and pending lists
    parts = []
    for chunk in (fps[:1000], fps[1000:1001], [], fps[1001:]):
        acc = combine.create_accumulator()
        for fp in chunk:
            acc = combine.add_input(acc, fp)
        parts.append(acc)
    got = combine.extract_output(combine.merge_accumulators(parts)).exact
    assert got.dtype == np.uint64
    assert got.tolist() == sorted(set(fps))
    empty = combine.extract_output(combine.merge_accumulators([combine.create_accumulator()]))
    assert len(empty.exact) == 0 and not sj.is_requested(empty, ids[0])


def test_past_its_byte_bound_the_set_becomes_a_bloom_filter_of_that_size():
    # The side input must stay bounded on a full run (1.4 GB of exact fingerprints): past
    # max_bytes it is a Bloom filter of max_bytes, with no false negatives, however merged.
    rng = random.Random(3)
    requested = [sha(rng) for _ in range(20_000)]
    others = [sha(rng) for _ in range(20_000)]
    combine = sj.FingerprintSet(compact_every=500, max_bytes=16_384)   # 2,048 exact ids at most
    parts = []
    for chunk in (requested[:100], requested[100:5000], requested[5000:]):
        acc = combine.create_accumulator()
        for blob_id in chunk:
            acc = combine.add_input(acc, sj.blob_fingerprint(blob_id))
        parts.append(acc)
    small = combine.extract_output(parts[0])
    assert small.exact is not None                            # 100 ids: still exact
    bloom = combine.extract_output(combine.merge_accumulators(parts))
    assert bloom.exact is None and bloom.nbytes() == 16_384
    assert all(sj.is_requested(bloom, i) for i in requested)
    passed = sum(sj.is_requested(bloom, i) for i in others) / len(others)
    assert 0 < passed < 0.2   # 6.5 bits per id, 2 probes: about 7 % of the unneeded get through


def test_every_requested_id_is_kept_and_unrequested_ids_are_not():
    rng = random.Random(2)
    requested = [sha(rng) for _ in range(3000)] + ["", "not-a-sha", "\udcff-lone-surrogate"]
    others = [sha(rng) for _ in range(3000)] + ["other", None, 12345]
    combine = sj.FingerprintSet()
    acc = combine.create_accumulator()
    for blob_id in requested:
        acc = combine.add_input(acc, sj.blob_fingerprint(blob_id))
    fps = combine.extract_output(acc)
    assert all(sj.is_requested(fps, i) for i in requested)
    assert not any(sj.is_requested(fps, i) for i in others)
    assert sj.requested_blob_events({"id": requested[0], "content": "x"}, fps) == [
        {"id": requested[0], "content": "x"}, sj.Count(sj.BLOBS_KEPT)]
    assert sj.requested_blob_events({"id": others[0], "content": "x"}, fps) == [sj.Count(sj.BLOBS_SKIPPED)]


def test_fingerprint_is_stable_across_processes():
    # The side input is built on one worker and probed on others: no per-process hash seed.
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "from codecorpus.core.semijoin import blob_fingerprint as f;"
                          "print(f('abc'), f(None))"], capture_output=True, text=True, check=True).stdout.split()
    assert [int(x) for x in out] == [sj.blob_fingerprint("abc"), sj.blob_fingerprint(None)]


def test_keep_requested_blobs_in_a_pipeline(tmp_path: Path):
    rng = random.Random(3)
    shared = sha(rng)  # named by two commits, and present twice in contents
    commits = [commit(i, sha(rng), shared if i < 2 else sha(rng)) for i in range(20)]
    named = {d["old_sha1"] for c in commits for d in c["difference"]} | {shared}
    contents = [{"id": i, "content": i[:6]} for i in sorted(named)] + [{"id": shared, "content": "copy"}]
    contents += [{"id": sha(rng), "content": "unneeded"} for _ in range(50)]
    pipeline, _ = make_pipeline([])
    with pipeline:
        candidates = pipeline | "Commits" >> beam.Create(commits)
        out = pipeline | "Contents" >> beam.Create(contents) | sj.KeepRequestedBlobs(candidates, cp.requested_blob_ids)
        _ = (out["kept"] | "Ids" >> beam.Map(lambda b: b["id"]) | beam.combiners.ToList()
             | "WriteKept" >> beam.Map(lambda ids: (tmp_path / "kept.json").write_text(json.dumps(sorted(ids)))))
        _ = (out[STATS] | beam.CombinePerKey(sum) | "StatsList" >> beam.combiners.ToList()
             | "WriteStats" >> beam.Map(lambda s: (tmp_path / "stats.json").write_text(json.dumps(dict(s)))))
        _ = (out[DEAD_LETTER] | "DeadList" >> beam.combiners.ToList()
             | "WriteDead" >> beam.Map(lambda d: (tmp_path / "dead.json").write_text(json.dumps(d))))
    requested = {i for c in commits for d in c["difference"] for i in (d["old_sha1"], d["new_sha1"])}
    kept = json.loads((tmp_path / "kept.json").read_text())
    assert sorted(kept) == sorted([b["id"] for b in contents if b["id"] in requested])
    assert json.loads((tmp_path / "stats.json").read_text()) == {sj.BLOBS_KEPT: len(kept), sj.BLOBS_SKIPPED: 50}
    assert json.loads((tmp_path / "dead.json").read_text()) == []
