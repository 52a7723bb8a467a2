"""Near-duplicates across splits, measured on the rows a training set actually contains.

The split of ``codecorpus mix`` keeps every dedup cluster on one side, but a cluster only
knows what its dedup job compared (one job's table, one text field). This check looks at the
written text of every split. ``CrossSplitNearDuplicates(cfg)`` reads as the recipe:

    (split, row_id, text)
    -> SignTexts            the near-duplicate engine's MinHash signature (``dedup.near``, the
                            settings of ``mix.leakage_check``); texts of fewer than ``ngram``
                            tokens get none and are not checked
    -> OneSignaturePerRow   ``(split, row_id)`` is the identity: up-sampled copies count once
    -> Buckets              LSH buckets of row nodes (``split\\x1frow_id``), no signatures
    -> EvalTrainPairs       per bucket, validation/test members x train members only, at most
                            ``bucket_cap`` members examined (larger buckets counted)
    -> VerifyCandidates     streaming joins carry each side's signature to the pair, which is
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
from typing import Iterable

import apache_beam as beam
import xxhash

from codecorpus.core.graph import counted, reiterable, stats_of_count, zero_counters
from codecorpus.core.routing import STATS
from codecorpus.dedup.near import Buckets, NearSettings, SignTexts, VerifyCandidates

SECTION = "mix.leakage_check"
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


def node(split: str, row_id: str) -> str:
    """One row's identity in the shuffles: ``split``, a unit separator, ``row_id``."""
    return f"{split}{_SEP}{row_id}"


def split_of_node(value: str) -> str:
    return value.split(_SEP, 1)[0]


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
    members = reiterable(members)
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


# --- Beam steps ----------------------------------------------------------------------------------


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
            yield from counted(GIANT_BUCKETS)


def _matched_counter(split_and_count):
    split, count = split_and_count
    return matched_counter(split), count


class CrossSplitNearDuplicates(beam.PTransform):
    """``(split, row_id, text)`` rows -> ``(counter, value)`` stats (``COUNTERS``, all always
    present). ``cfg``: the ``mix.leakage_check`` section; ``ConfigError`` when it cannot run."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.settings = NearSettings.from_config(cfg, SECTION)

    def expand(self, rows):
        settings = self.settings
        sigs = (rows
                | "NodeText" >> beam.Map(lambda r: (node(r[0], r[1]), r[2]))
                | "Sign" >> SignTexts(settings, short=False)
                | "OneSignaturePerRow" >> beam.CombinePerKey(min))
        buckets = (sigs
                   | "Buckets" >> Buckets(settings)
                   | "EvalTrainPairs" >> beam.ParDo(_BucketPairs(settings.bucket_cap)).with_outputs(STATS, main="pairs"))
        candidates = buckets.pairs | "DistinctCandidates" >> beam.Distinct()
        verified = candidates | "Verify" >> VerifyCandidates(sigs, settings.threshold, counts=False)
        matched = (verified["edges"]
                   | "EvalRowsMatched" >> beam.Keys()
                   | "DistinctEvalRows" >> beam.Distinct()
                   | "SplitOfRow" >> beam.Map(split_of_node)
                   | "MatchedPerSplit" >> beam.combiners.Count.PerElement()
                   | "MatchedCounter" >> beam.Map(_matched_counter))
        stats = (zero_counters(rows.pipeline, "ZeroCounters", COUNTERS),
                 stats_of_count(sigs, "CountChecked", ROWS_CHECKED),
                 stats_of_count(verified["edges"], "CountPairs", CROSS_SPLIT_PAIRS),
                 matched, buckets[STATS], verified[STATS])
        return stats | "LeakageStats" >> beam.Flatten()
