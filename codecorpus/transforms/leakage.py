"""Near-duplicates across splits, measured on the rows a training set actually contains.

The split of ``codecorpus mix`` keeps every dedup cluster on one side, but a cluster only
knows what its dedup job compared (one job's table, one text field). This check looks at the
written text of every split: MinHash signatures (the dedup stage's ``MinHasher``), LSH bands,
and within each bucket only validation/test members against train members; the candidate
pairs are verified on their signatures' Jaccard estimate. Signatures travel only to the join
that verifies a pair; no bucket larger than ``bucket_cap`` is compared whole (counted).

Counters (all always present): ``leakage/near/<split>_rows_with_train_match`` for validation
and test, ``leakage/near/cross_split_pairs``, ``leakage/near/rows_checked``,
``leakage/near/giant_buckets``.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus.config import ConfigError
from codecorpus.transforms import minhash as mh
from codecorpus.transforms.dedup import stream_join

DEFAULTS = {"enabled": True, "num_perm": 128, "ngram": 5, "threshold": 0.7, "bands": None, "rows": None,
            "bucket_cap": 1000, "seed": 42}
EVAL_SPLITS = ("validation", "test")
PREFIX = "leakage/near"
COUNTERS = [f"{PREFIX}/{s}_rows_with_train_match" for s in EVAL_SPLITS] + [
    f"{PREFIX}/{name}" for name in ("cross_split_pairs", "rows_checked", "giant_buckets")]
_SEP = "\x1f"


def node(split: str, row_id: str) -> str:
    return f"{split}{_SEP}{row_id}"


def split_of_node(value: str) -> str:
    return value.split(_SEP, 1)[0]


def settings(cfg: dict) -> dict:
    """``cfg`` over ``DEFAULTS``, checked; bands and rows chosen for the threshold when null."""
    merged = {**DEFAULTS, **(cfg or {})}
    unknown = set(merged) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"mix.leakage_check: unknown key(s) {sorted(unknown)}")
    threshold = float(merged["threshold"])
    if not 0 < threshold < 1:
        raise ConfigError(f"mix.leakage_check.threshold must be between 0 and 1, got {threshold}")
    num_perm = int(merged["num_perm"])
    if bool(merged["bands"]) != bool(merged["rows"]):
        raise ConfigError("mix.leakage_check: set both bands and rows, or neither")
    bands, rows = (int(merged["bands"]), int(merged["rows"])) if merged["bands"] else mh.optimal_bands(threshold,
                                                                                                       num_perm)
    if bands * rows > num_perm:
        raise ConfigError(f"mix.leakage_check: bands x rows = {bands * rows} exceeds num_perm = {num_perm}")
    if int(merged["bucket_cap"]) < 2:
        raise ConfigError("mix.leakage_check.bucket_cap must be at least 2")
    return {**merged, "threshold": threshold, "num_perm": num_perm, "bands": bands, "rows": rows}


def eval_train_pairs(members: list[str], cap: int):
    """Candidate (eval node, train node) pairs of one bucket: only across the train boundary,
    among its first ``cap`` members in sorted order; second value: whether it was cut."""
    members = sorted(set(members))
    cut = len(members) > cap
    members = members[:cap]
    train = [m for m in members if split_of_node(m) == "train"]
    evals = [m for m in members if split_of_node(m) != "train"]
    return [(e, t) for e in evals for t in train], cut


class _Sign(beam.DoFn):
    def __init__(self, num_perm: int, ngram: int, seed: int):
        self.params = (num_perm, ngram, seed)

    def setup(self):
        self.hasher = mh.MinHasher(*self.params)

    def process(self, element):
        split, row_id, text = element
        sig = mh.signature_bytes(self.hasher.signature(text or ""))
        if sig is not None:
            yield node(split, row_id), sig


class _BucketPairs(beam.DoFn):
    def __init__(self, cap: int):
        self.cap = cap

    def process(self, element):
        _, members = element
        pairs, cut = eval_train_pairs(list(members), self.cap)
        if cut:
            yield beam.pvalue.TaggedOutput("stats", (f"{PREFIX}/giant_buckets", 1))
        yield from pairs


def _carry_eval_sig(eval_node, ones, trains):
    sig = ones.get("sig")
    for train in trains:
        yield train, (eval_node, sig)


class _Verify:
    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, train_node, ones, evals):
        sig = ones.get("sig")
        for eval_node, eval_sig in evals:
            if sig is not None and eval_sig is not None and mh.jaccard_estimate(sig, eval_sig) >= self.threshold:
                yield eval_node, train_node


class CrossSplitNearDuplicates(beam.PTransform):
    """``(split, row_id, text)`` (one per row) -> ``(counter, value)`` stats."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = settings(cfg)

    def expand(self, rows):
        cfg = self.cfg
        bands, band_rows = cfg["bands"], cfg["rows"]
        zero = rows.pipeline | "ZeroCounters" >> beam.Create([(name, 0) for name in COUNTERS])
        sigs = rows | "Sign" >> beam.ParDo(_Sign(cfg["num_perm"], cfg["ngram"], cfg["seed"]))
        checked = sigs | "Checked" >> beam.Map(lambda _: (f"{PREFIX}/rows_checked", 1))
        buckets = (sigs
                   | "BandKeys" >> beam.FlatMap(lambda kv: [(k, kv[0]) for k in mh.band_keys(kv[1], bands, band_rows)])
                   | "GroupBucket" >> beam.GroupByKey()
                   | "EvalTrainPairs" >> beam.ParDo(_BucketPairs(cfg["bucket_cap"])).with_outputs("stats",
                                                                                                    main="pairs"))
        candidates = buckets.pairs | "DistinctPairs" >> beam.Distinct()
        half = stream_join("EvalSig", {"sig": sigs}, candidates, _carry_eval_sig)
        verified = stream_join("TrainSig", {"sig": sigs}, half.out, _Verify(cfg["threshold"]))
        pairs = verified.out | "PairCount" >> beam.Map(lambda _: (f"{PREFIX}/cross_split_pairs", 1))
        matched = (verified.out
                   | "EvalRows" >> beam.Keys()
                   | "DistinctEvalRows" >> beam.Distinct()
                   | "PerSplit" >> beam.Map(lambda n: (f"{PREFIX}/{split_of_node(n)}_rows_with_train_match", 1)))
        return (zero, checked, buckets.stats, half["stats"], verified["stats"], pairs, matched) \
            | "LeakageStats" >> beam.Flatten()
