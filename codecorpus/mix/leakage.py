"""Near-duplicates across splits, measured on the rows a training set actually contains.

The split of ``codecorpus mix`` keeps every dedup cluster on one side, but a cluster only
knows what its dedup job compared (one job's table, one text field). This check looks at the
written text of every split. ``CrossSplitNearDuplicates(cfg)`` reads as the recipe:

    (split, row_id, text)
    -> Sign                 the dedup stage's MinHash signature (``dedup.minhash_params``, so a
                            signature means the same thing here); texts of fewer than ``ngram``
                            tokens get none and are not checked
    -> OneSignaturePerRow   ``(split, row_id)`` is the identity: up-sampled copies count once
    -> BandKeys, GroupByBand  LSH buckets of row nodes (``split\\x1frow_id``), no signatures
    -> EvalTrainPairs       per bucket, validation/test members x train members only, at most
                            ``bucket_cap`` members examined (larger buckets counted)
    -> SigOfEval, SigOfTrain  streaming joins carry each side's signature to the pair, which is
                            kept when its Jaccard estimate is >= ``threshold``
    -> counters

Pairs within one split are never formed. A match is direct (eval row ~ train row), not through
a chain of near-duplicates. Rows of a split other than ``train`` are compared as evaluation rows.

Counters (always present, 0 included): ``leakage/near/<split>_rows_with_train_match`` for
validation and test (distinct eval rows with at least one verified train match),
``leakage/near/cross_split_pairs`` (distinct verified (eval row, train row) pairs),
``leakage/near/rows_checked`` (distinct rows with a signature), ``leakage/near/giant_buckets``
(buckets with more than ``bucket_cap`` train + eval members whose comparisons were cut: pairs
and matches may be undercounted there).
"""

from __future__ import annotations

import heapq
from typing import Iterable, Optional

import apache_beam as beam
import xxhash

from codecorpus.config import ConfigError
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.deduplicate import (_counted, _reiterable, _verify_half, _zero_counters, minhash_params, stats_of_count, stream_join)
from codecorpus.core.routing import STATS

# num_perm, ngram and seed are dedup.near_dedup's defaults, so signatures agree with dedup's.
# ``enabled`` is read by the calling job (mix.leakage_check), not here.
DEFAULTS = {"enabled": True, "num_perm": 256, "ngram": 5, "threshold": 0.7, "bands": None, "rows": None,
            "bucket_cap": 1000, "seed": 42}
TRAIN = "train"
EVAL_SPLITS = ("validation", "test")
PREFIX = "leakage/near"
CROSS_SPLIT_PAIRS = f"{PREFIX}/cross_split_pairs"
ROWS_CHECKED = f"{PREFIX}/rows_checked"
GIANT_BUCKETS = f"{PREFIX}/giant_buckets"
_SEP = "\x1f"


def matched_counter(split: str) -> str:
    return f"{PREFIX}/{split}_rows_with_train_match"


COUNTERS = [matched_counter(s) for s in EVAL_SPLITS] + [CROSS_SPLIT_PAIRS, ROWS_CHECKED, GIANT_BUCKETS]


# --- pure parts ----------------------------------------------------------------------------------


def settings(cfg: Optional[dict]) -> dict:
    """``cfg`` over ``DEFAULTS``, checked (``ConfigError``); bands and rows chosen for the
    threshold (``minhash.optimal_bands``) when null."""
    merged = {**DEFAULTS, **(cfg or {})}
    unknown = set(merged) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"mix.leakage_check: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    for key, least in (("num_perm", 1), ("ngram", 1), ("bucket_cap", 2), ("seed", 0)):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"mix.leakage_check.{key} must be an integer >= {least}, got {value!r}")
    threshold = merged["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ConfigError(f"mix.leakage_check.threshold must be between 0 and 1 (exclusive), got {threshold!r}")
    bands, rows = merged["bands"], merged["rows"]
    if (bands is None) != (rows is None):
        raise ConfigError("mix.leakage_check: set both bands and rows, or neither (null: optimal for the threshold)")
    if bands is None:
        bands, rows = mh.optimal_bands(float(threshold), merged["num_perm"])
    elif any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in (bands, rows)):
        raise ConfigError(f"mix.leakage_check: bands and rows must be integers >= 1, got {bands!r} x {rows!r}")
    if bands * rows > merged["num_perm"]:
        raise ConfigError(f"mix.leakage_check: bands x rows = {bands * rows} exceeds num_perm = {merged['num_perm']}")
    return {**merged, "threshold": float(threshold), "bands": bands, "rows": rows}


def node(split: str, row_id: str) -> str:
    """One row's identity in the shuffles: ``split``, a unit separator, ``row_id``."""
    return f"{split}{_SEP}{row_id}"


def split_of_node(value: str) -> str:
    return value.split(_SEP, 1)[0]


def row_signature(hasher: mh.MinHasher, text: Optional[str]) -> Optional[bytes]:
    """The row's MinHash signature (``signature_bytes``), or None for a text of fewer than
    ``hasher.ngram`` tokens (dedup signs those too, as one short shingle; here they are skipped)."""
    if not text:
        return None
    token_hashes = mh.token_hashes(text, hasher.seed)
    if len(token_hashes) < hasher.ngram:
        return None
    shingles = mh.ngram_hashes(token_hashes, hasher.ngram, hasher.seed, short=False)
    return mh.signature_bytes(hasher.signature_of_shingles(shingles))


def _rank(member: str) -> tuple[int, str]:
    """A deterministic order of nodes that does not favour a split or an id's spelling."""
    return xxhash.xxh64_intdigest(member.encode("utf-8", "surrogatepass")), member


def examined_members(members: Iterable[str], cap: int) -> tuple[list[str], list[str], bool]:
    """``(eval members, train members, cut)`` of one bucket to compare, at most ``cap`` in all.

    ``members``: distinct nodes (a GroupByKey's values: read twice, never held whole). A bucket
    is cut only when it has members of both sides and more than ``cap`` of them; then train gets
    ``cap`` minus the evaluation members' count, but at least half of ``cap``, and evaluation
    rows (the ones measured) the rest; on each side the members chosen are the first by a hash
    of the node. A bucket with one side only needs no comparison and is never cut."""
    members = _reiterable(members)
    n_train = n_eval = 0
    for m in members:
        if split_of_node(m) == TRAIN:
            n_train += 1
        else:
            n_eval += 1
    if not n_train or not n_eval:
        return [], [], False
    if n_train + n_eval <= cap:
        train = [m for m in members if split_of_node(m) == TRAIN]
        evals = [m for m in members if split_of_node(m) != TRAIN]
        return sorted(evals), sorted(train), False
    take_train = min(n_train, max(cap - n_eval, cap // 2))
    take_eval = min(n_eval, cap - take_train)
    train = heapq.nsmallest(take_train, (m for m in members if split_of_node(m) == TRAIN), key=_rank)
    evals = heapq.nsmallest(take_eval, (m for m in members if split_of_node(m) != TRAIN), key=_rank)
    return evals, train, True


def eval_train_pairs(members: Iterable[str], cap: int) -> tuple[list[tuple[str, str]], bool]:
    """Candidate ``(eval node, train node)`` pairs of one bucket (``examined_members``); second
    value: whether the bucket was cut."""
    evals, train, cut = examined_members(members, cap)
    return [(e, t) for e in evals for t in train], cut


def is_match(sig_a, sig_b, threshold: float) -> bool:
    return sig_a is not None and sig_b is not None and mh.jaccard_estimate(sig_a, sig_b) >= threshold


# --- Beam steps ----------------------------------------------------------------------------------


class _Sign(beam.DoFn):
    """``(split, row_id, text)`` -> ``(node, signature bytes)``; nothing for a too-short text."""

    def __init__(self, params: tuple[int, int, int]):
        self.params = params
        self.hasher = None

    def setup(self):
        self.hasher = mh.MinHasher(*self.params)

    def process(self, element):
        split, row_id, text = element
        sig = row_signature(self.hasher, text)
        if sig is not None:
            yield node(split, row_id), sig


class _BucketPairs(beam.DoFn):
    """One LSH bucket ``(band key, nodes)`` -> candidate ``(eval node, train node)`` pairs."""

    def __init__(self, cap: int):
        self.cap = cap

    def process(self, element):
        _, members = element
        evals, train, cut = examined_members(members, self.cap)
        for e in evals:
            for t in train:
                yield e, t
        if cut:
            yield from _counted(GIANT_BUCKETS)


class _Verify:
    """``stream_join`` step keyed by the train node: ``(eval node, train node)`` for each
    candidate whose signatures agree on at least ``threshold`` of their values."""

    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, train_node, ones, candidates):
        sig = ones.get("sig")
        for eval_node, eval_sig in candidates:
            if is_match(eval_sig, sig, self.threshold):
                yield eval_node, train_node


def _matched_counter(split_and_count):
    split, count = split_and_count
    return matched_counter(split), count


class CrossSplitNearDuplicates(beam.PTransform):
    """``(split, row_id, text)`` rows -> ``(counter, value)`` stats (``COUNTERS``, all always
    present). ``cfg``: the keys of ``DEFAULTS`` (``mix.leakage_check``); ``ConfigError`` when
    it cannot run."""

    def __init__(self, cfg: Optional[dict] = None):
        super().__init__()
        self.cfg = settings(cfg)

    def expand(self, rows):
        cfg = self.cfg
        bands, band_rows = cfg["bands"], cfg["rows"]
        sigs = (rows
                | "Sign" >> beam.ParDo(_Sign(minhash_params(cfg)))
                | "OneSignaturePerRow" >> beam.CombinePerKey(min))
        buckets = (sigs
                   | "BandKeys" >> beam.FlatMap(lambda kv: [(k, kv[0]) for k in mh.band_keys(kv[1], bands, band_rows)])
                   | "GroupByBand" >> beam.GroupByKey()
                   | "EvalTrainPairs" >> beam.ParDo(_BucketPairs(cfg["bucket_cap"])).with_outputs(STATS, main="pairs"))
        candidates = buckets.pairs | "DistinctCandidates" >> beam.Distinct()
        half = stream_join("SigOfEval", {"sig": sigs}, candidates, _verify_half)  # -> (train, (eval, eval sig))
        verified = stream_join("SigOfTrain", {"sig": sigs}, half.out, _Verify(cfg["threshold"]))
        matched = (verified.out
                   | "EvalRowsMatched" >> beam.Keys()
                   | "DistinctEvalRows" >> beam.Distinct()
                   | "SplitOfRow" >> beam.Map(split_of_node)
                   | "MatchedPerSplit" >> beam.combiners.Count.PerElement()
                   | "MatchedCounter" >> beam.Map(_matched_counter))
        stats = (_zero_counters(rows.pipeline, "ZeroCounters", COUNTERS),
                 stats_of_count(sigs, "CountChecked", ROWS_CHECKED),
                 stats_of_count(verified.out, "CountPairs", CROSS_SPLIT_PAIRS),
                 matched, buckets[STATS], half[STATS], verified[STATS])
        return stats | "LeakageStats" >> beam.Flatten()
