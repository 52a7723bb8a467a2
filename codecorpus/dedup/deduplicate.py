"""Decontamination, exact and near deduplication as Beam transforms (REFERENCE.md §4).

``Deduplicate(text_field, id_field, config)`` reads as the recipe:

    records
    -> KeyAndSign         id, content hash, keep-rule rank, MinHash signature; records sharing
                          a long n-gram with an evaluation set are dropped  filter/decontaminate/<benchmark>
    -> ExactDedup         one CombinePerKey per content hash keeps the best  filter/exact_dedup/duplicate
    -> NearDedup          LSH bands -> GroupByKey per band -> a star per bucket (every member linked to
                          the bucket's smallest id: n - 1 edges, not n^2) -> edges verified on the
                          signatures' Jaccard estimate -> ConnectedComponents -> CombinePerKey keeps
                          the best of each component                        filter/near_dedup/near_duplicate
    -> ResolveClusters    exact duplicates follow their representative into its cluster
    -> JoinDecisions      records meet their decision by id (CoGroupByKey)  kept records + ``clusters`` rows

Only ids, content hashes, ranks and signatures move through the dedup stages, and no stage
holds a global index or a whole bucket: groups are read in two streaming passes (find the
centre, then emit), buckets larger than ``bucket_cap`` are split into sub-stars (counted), and
the best of a cluster is a combiner-lifted ``CombinePerKey``. Records are shuffled once, at the
end, to meet their decision. Counters: ``filter/...`` for drops (so a calling job's accounting
identity holds), ``dedup/...`` and ``decontaminate/...`` for what the stages did.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Callable, Iterable, Optional

import apache_beam as beam
import xxhash

from codecorpus.core.filters import counter_name
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.decontaminate import EvalIndex
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Drop, Route, dead_letter, route_events

CLUSTERS = "clusters"
EXACT, NEAR, DECONTAMINATE = "exact_dedup", "near_dedup", "decontaminate"
EXACT_DROP = counter_name(EXACT, "duplicate")
NEAR_DROP = counter_name(NEAR, "near_duplicate")
KEEP_RULES = ("smallest_id", "best")
NEAR_COUNTERS = [f"dedup/near/{name}" for name in (
    "giant_buckets", "giant_bucket_members", "verified_edges", "rejected_edges", "clusters", "linked_below_threshold")]

# A decision for one id: (cluster_id = the kept member's id, cluster_size (records), kept,
# match ("kept" | "exact" | "near"), estimated Jaccard similarity to the kept member).


# --- pure helpers --------------------------------------------------------------------------------


def canonical_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)


def record_id(record: dict, id_field: Optional[str]) -> str:
    """The record's id as a string: its ``id_field``, or a stable hash of the whole record."""
    if id_field is None:
        return xxhash.xxh3_128_hexdigest(canonical_json(record).encode("utf-8", "surrogatepass"))
    value = record.get(id_field)
    if value is None or value == "":
        raise ValueError(f"id field '{id_field}' is missing or empty")
    return str(value)


def key_of_record(record: dict, id_field: Optional[str]) -> Optional[str]:
    """The id a dead letter names (None when there is no usable one)."""
    value = record.get(id_field) if id_field and isinstance(record, dict) else None
    return None if value is None else str(value)


def text_of(record: dict, text_field: str) -> Optional[str]:
    if text_field not in record:
        raise ValueError(f"record has no text field '{text_field}'")
    text = record[text_field]
    if text is not None and not isinstance(text, str):
        raise ValueError(f"text field '{text_field}' must be a string, got {type(text).__name__}")
    return text


def _lookup(record: dict, dotted: Optional[str]) -> Any:
    """``record["a"]["b"]`` for ``"a.b"``; None when any step is missing."""
    if not dotted:
        return None
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _timestamp(value: Any) -> Optional[float]:
    """Seconds since the epoch of a number, a datetime or an ISO date (naive = UTC), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        for suffix in (" UTC", "Z"):  # BigQuery exports "... UTC"; Python 3.10 rejects "Z"
            if text.endswith(suffix):
                text = text[:-len(suffix)] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=value.tzinfo or dt.timezone.utc).timestamp()
    return None


class KeepRule:
    """Which member of a cluster is kept: the smallest rank, then the smallest id.

    ``smallest_id``: ranks are all equal. ``best``: licence (``licence_order`` first to last, then
    any other licence, then none; with no order, any licence beats none) -> newest
    (``date_field``: a number, ISO date or dotted path to one; missing is oldest) -> longest text.
    """

    def __init__(self, rule: str = "best", licence_field: Optional[str] = "license",
                 licence_order: Optional[list] = None, date_field: Optional[str] = None):
        if rule not in KEEP_RULES:
            raise ValueError(f"unknown keep rule '{rule}'; known: {', '.join(KEEP_RULES)}")
        self.rule, self.licence_field, self.date_field = rule, licence_field, date_field
        self.licence_order = [str(x).lower() for x in licence_order] if licence_order is not None else None

    def rank(self, record: dict, text: str) -> tuple:
        if self.rule == "smallest_id":
            return ()
        licence = _lookup(record, self.licence_field)
        if licence is None or licence == "":
            licence_rank = len(self.licence_order or []) + 1
        elif self.licence_order is None:
            licence_rank = 0
        else:
            name = str(licence).lower()
            licence_rank = self.licence_order.index(name) if name in self.licence_order else len(self.licence_order)
        when = _timestamp(_lookup(record, self.date_field))
        return (licence_rank, when is None, -(when or 0.0), -len(text))


def _counted(name: str, value: int = 1):
    """A ``(counter, value)`` stats output (nothing for 0: ``_zero_counters`` lists the names)."""
    return route_events([Count(name, value)] if value else [], "dedup")


def _zero_counters(pipeline, label: str, names: Iterable[str]):
    """Every counter a stage may increment, at 0, so the manifest always lists it."""
    return pipeline | label >> beam.Create([(name, 0) for name in names])


def _reiterable(values: Iterable) -> Iterable:
    # GroupByKey values can be iterated more than once (and are paged, not held, on Dataflow);
    # a plain iterator cannot, so materialise that case only.
    return list(values) if iter(values) is values else values


# --- streaming joins -----------------------------------------------------------------------------


class _StreamJoinFn(beam.DoFn):
    def __init__(self, fn: Callable):
        self.fn = fn

    def process(self, element):
        key, values = element
        values = _reiterable(values)
        ones = {}
        for tag, value in values:  # pass 1: the single-valued sides (one value per key expected)
            if tag != "*" and (tag not in ones or repr(value) < repr(ones[tag])):
                ones[tag] = value
        yield from self.fn(key, ones, (value for tag, value in values if tag == "*"))


def stream_join(label: str, ones: dict, many, fn: Callable):
    """Join at most one value per key from each of ``ones`` (name -> PCollection of (k, v)) with
    any number from ``many`` (a PCollection of (k, w), or None) without holding a group:
    ``fn(key, {name: v}, iterator of w)`` yields outputs, ``TaggedOutput(STATS, ...)`` included.
    Returns the ParDo's outputs (``.out`` and ``[STATS]``)."""
    tagged = [pcoll | f"{label}Tag_{name}" >> beam.Map(lambda kv, name=name: (kv[0], (name, kv[1])))
              for name, pcoll in ones.items()]
    if many is not None:
        tagged.append(many | f"{label}Tag_many" >> beam.Map(lambda kv: (kv[0], ("*", kv[1]))))
    return (tagged | f"{label}Flatten" >> beam.Flatten()
            | f"{label}Group" >> beam.GroupByKey()
            | f"{label}Join" >> beam.ParDo(_StreamJoinFn(fn)).with_outputs(STATS, main="out"))


# --- exact dedup ---------------------------------------------------------------------------------


def _better(a, b):
    """The better of two ``(rank, id, signature)`` candidates (None loses); the signature only
    breaks the tie of an id used twice, so the choice never depends on arrival order."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (a[0], a[1], a[2] or b"") <= (b[0], b[1], b[2] or b"") else b


class _CountAndBest(beam.CombineFn):
    """(weight, (rank, id, payload)) -> (total weight, best (rank, id, payload))."""

    def create_accumulator(self):
        return 0, None

    def add_input(self, acc, element):
        weight, candidate = element
        return acc[0] + weight, _better(acc[1], candidate)

    def merge_accumulators(self, accumulators):
        total, best = 0, None
        for weight, candidate in accumulators:
            total, best = total + weight, _better(best, candidate)
        return total, best

    def extract_output(self, acc):
        return acc


class ExactDedup(beam.PTransform):
    """``(id, (content hash, rank, signature))`` -> ``reps``: ``(id, (rank, signature, copies))``,
    one per distinct content (the best by rank, then id); ``duplicates``: ``(rep id, id)``."""

    def expand(self, metas):
        best = (metas
                | "ByContentHash" >> beam.Map(lambda kv: (kv[1][0], (1, (kv[1][1], kv[0], kv[1][2]))))
                | "BestPerContent" >> beam.CombinePerKey(_CountAndBest()))
        reps = best | "Representatives" >> beam.Map(
            lambda kv: (kv[1][1][1], (kv[1][1][0], kv[1][1][2], kv[1][0])))
        members = metas | "MemberByContentHash" >> beam.Map(lambda kv: (kv[1][0], kv[0]))
        joined = stream_join("Duplicates", {"best": best}, members, _exact_duplicates)
        return {"reps": reps, "duplicates": joined.out, STATS: joined[STATS]}


def _exact_duplicates(content_hash, ones, members):
    count, (_, rep, _) = ones["best"]
    if count > 1:
        yield from _counted("dedup/exact/clusters")
    for member in members:
        if member != rep:
            yield rep, member


# --- near dedup ----------------------------------------------------------------------------------


class _StarEdges(beam.DoFn):
    """One LSH bucket (ids sharing a band) -> star edges ``(member, centre)``.

    The centre is the bucket's smallest id. A bucket of more than ``cap`` members is split by
    a hash of the id into sub-stars of about ``cap`` members whose centres join the bucket's
    centre, so no later stage meets a group larger than ``cap`` because of it."""

    def __init__(self, cap: int):
        self.cap = cap

    def process(self, element):
        _, members = element
        members = _reiterable(members)
        count, smallest = 0, None
        for m in members:
            count += 1
            smallest = m if smallest is None or m < smallest else smallest
        if count < 2:
            return
        if count <= self.cap:
            for m in members:
                if m != smallest:
                    yield m, smallest
            return
        parts = math.ceil(count / self.cap)
        part = lambda m: xxhash.xxh64_intdigest(m.encode("utf-8", "surrogatepass")) % parts  # noqa: E731
        centres: dict[int, str] = {}
        for m in members:
            p = part(m)
            if p not in centres or m < centres[p]:
                centres[p] = m
        for m in members:
            centre = centres[part(m)]
            if m != centre:
                yield m, centre
        for centre in sorted(centres.values()):
            if centre != smallest:
                yield centre, smallest
        yield from _counted("dedup/near/giant_buckets")
        yield from _counted("dedup/near/giant_bucket_members", count)


def _orient(edge):
    a, b = edge
    return (a, b) if a > b else (b, a)


class _StarStep(beam.DoFn):
    """A large- or small-star step; counts the edges it changed under each of ``counters``."""

    def __init__(self, *counters: Optional[str]):
        self.counters = [c for c in counters if c]

    def _count(self, changed: int):
        for counter in self.counters if changed else ():
            yield from _counted(counter, changed)


class _LargeStar(_StarStep):
    """Node u with neighbours N: every larger neighbour is linked to min(N + u) instead of u."""

    def process(self, element):
        u, neighbours = element
        neighbours = _reiterable(neighbours)
        m = min(min(neighbours), u)
        changed = 0
        for v in neighbours:
            if v > u:
                yield v, m
                changed += m != u
        yield from self._count(changed)


class _SmallStar(_StarStep):
    """Node u with smaller neighbours L: u and all of L are linked to min(L)."""

    def process(self, element):
        u, lows = element
        lows = _reiterable(lows)
        m = min(lows)
        yield u, m
        changed = 0
        for v in lows:
            if v != m:
                yield v, m
                changed += 1
        yield from self._count(changed)


class ConnectedComponents(beam.PTransform):
    """Undirected edges ``(a, b)`` -> ``(node, label)``, the label being the smallest node of
    its component, for every node on an edge; plus ``stats``.

    Alternating large-star and small-star (Kiveris et al., "Connected Components in MapReduce
    and Beyond", 2014), unrolled for ``max_rounds`` rounds in the pipeline graph. Each node's
    neighbours are read in two streaming passes, so a node of huge degree is never held. A
    round that changes no edge means the graph is a set of stars around each component's
    minimum: ``dedup/cc/round_NN_changes`` counts the edges each round changed and
    ``dedup/cc/unconverged_changes`` those of the last round (0: converged). If it is not 0,
    each node takes the smallest of itself and its neighbours: deterministic, and a component
    may stay split (never wrongly merged)."""

    def __init__(self, max_rounds: int, counter_prefix: str = "dedup/cc"):
        super().__init__()
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.max_rounds = max_rounds
        self.prefix = counter_prefix

    def expand(self, edges):
        names = [f"{self.prefix}/round_{r:02d}_changes" for r in range(1, self.max_rounds + 1)]
        last = f"{self.prefix}/unconverged_changes"
        stats = [_zero_counters(edges.pipeline, "ZeroCounters", names + [last])]
        edges = edges | "Orient" >> beam.Map(_orient) | "DistinctEdges" >> beam.Distinct()
        for r, name in enumerate(names, start=1):
            counters = (name, last if r == self.max_rounds else None)
            step = f"Round{r:02d}"
            large = (edges
                     | f"{step}BothWays" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
                     | f"{step}Neighbours" >> beam.GroupByKey()
                     | f"{step}LargeStar" >> beam.ParDo(_LargeStar(*counters)).with_outputs(STATS, main="edges"))
            edges = large.edges | f"{step}DistinctLarge" >> beam.Distinct()
            small = (edges
                     | f"{step}SmallerNeighbours" >> beam.GroupByKey()
                     | f"{step}SmallStar" >> beam.ParDo(_SmallStar(*counters)).with_outputs(STATS, main="edges"))
            edges = small.edges | f"{step}DistinctSmall" >> beam.Distinct()
            stats += [large[STATS], small[STATS]]
        labels = (edges
                  | "NodeAndNeighbour" >> beam.FlatMap(lambda e: [(e[0], e[1]), (e[1], e[1])])
                  | "SmallestNeighbour" >> beam.CombinePerKey(min))
        return {"labels": labels, STATS: tuple(stats) | "CCStats" >> beam.Flatten()}


def _verify_half(key, ones, partners):
    """Key a candidate edge by its other end, carrying this end's signature."""
    sig = ones.get("sig")
    for partner in partners:
        yield partner, (key, sig)


class _VerifyEdges:
    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, key, ones, partners):
        sig = ones.get("sig")
        accepted = rejected = 0
        for partner, partner_sig in partners:
            if sig is not None and partner_sig is not None and \
                    mh.jaccard_estimate(sig, partner_sig) >= self.threshold:
                accepted += 1
                yield key, partner
            else:
                rejected += 1
        yield from _counted("dedup/near/verified_edges", accepted)
        yield from _counted("dedup/near/rejected_edges", rejected)


class _ClusterDecisions:
    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, label, ones, members):
        size, (_, kept_id, kept_sig) = ones["cluster"]
        yield from _counted("dedup/near/clusters")
        for _, (_, member, sig) in members:
            if member == kept_id:
                yield member, (kept_id, size, True, "kept", 1.0)
                continue
            similarity = mh.jaccard_estimate(sig, kept_sig)
            if similarity < self.threshold:  # joined through others (A~B~C): say so
                yield from _counted("dedup/near/linked_below_threshold")
            yield member, (kept_id, size, False, "near", similarity)


class NearDedup(beam.PTransform):
    """``(id, (rank, signature bytes or None, copies))`` -> ``decisions``: ``(id, decision)``
    for every member of a near-duplicate cluster (size counted in records, copies included),
    and ``stats``."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.threshold = float(cfg["threshold"])
        if not 0 < self.threshold < 1:
            raise ValueError(f"near_dedup: threshold must be between 0 and 1, got {self.threshold}")
        num_perm = int(cfg["num_perm"])
        if cfg.get("bands") and cfg.get("rows"):
            self.bands, self.rows = int(cfg["bands"]), int(cfg["rows"])
        elif cfg.get("bands") or cfg.get("rows"):
            raise ValueError("near_dedup: set both bands and rows, or neither (null: optimal for the threshold)")
        else:
            self.bands, self.rows = mh.optimal_bands(self.threshold, num_perm, cfg["fp_weight"], cfg["fn_weight"])
        if self.bands * self.rows > num_perm:
            raise ValueError(f"near_dedup: bands x rows = {self.bands * self.rows} exceeds num_perm = {num_perm}")
        self.verify = bool(cfg["verify"])
        self.cap = int(cfg["bucket_cap"])
        self.max_rounds = int(cfg["max_rounds"])
        if self.cap < 2:
            raise ValueError("near_dedup: bucket_cap must be at least 2")

    def expand(self, reps):
        bands, rows, threshold = self.bands, self.rows, self.threshold
        sigs = reps | "Signatures" >> beam.FlatMap(lambda kv: [(kv[0], kv[1][1])] if kv[1][1] is not None else [])
        stars = (sigs
                 | "BandKeys" >> beam.FlatMap(lambda kv: [(key, kv[0]) for key in mh.band_keys(kv[1], bands, rows)])
                 | "GroupByBand" >> beam.GroupByKey()
                 | "StarPerBucket" >> beam.ParDo(_StarEdges(self.cap)).with_outputs(STATS, main="edges"))
        candidates = stars.edges | "OrientCandidates" >> beam.Map(_orient) | "DistinctCandidates" >> beam.Distinct()
        stats = [stats_of_count(candidates, "CountCandidates", "dedup/near/candidate_edges"), stars[STATS],
                 _zero_counters(reps.pipeline, "ZeroCounters", NEAR_COUNTERS)]
        edges = candidates
        if self.verify:
            half = stream_join("SigOfLow", {"sig": sigs}, candidates | "ByLow" >> beam.Map(lambda e: (e[1], e[0])),
                               _verify_half)
            verified = stream_join("SigOfHigh", {"sig": sigs}, half.out, _VerifyEdges(threshold))
            edges = verified.out
            stats += [half[STATS], verified[STATS]]
        components = edges | "ConnectedComponents" >> ConnectedComponents(self.max_rounds)
        members = (
            {"rep": reps, "label": components["labels"]}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "MemberOfComponent" >> beam.FlatMap(_member_of_component))
        clusters = members | "BestPerComponent" >> beam.CombinePerKey(_CountAndBest())
        decisions = stream_join("Decide", {"cluster": clusters}, members, _ClusterDecisions(threshold))
        stats += [components[STATS], decisions[STATS]]
        return {"decisions": decisions.out, STATS: tuple(stats) | "NearStats" >> beam.Flatten()}


def _member_of_component(element):
    """(id, {rep, label}) -> (label, (copies, (rank, id, signature))) for labelled reps."""
    rep_id, grouped = element
    labels, reps = list(grouped["label"]), list(grouped["rep"])
    if labels and reps:
        rank, sig, copies = min(reps, key=repr)
        yield min(labels), (copies, (rank, rep_id, sig))


def stats_of_count(pcoll, label: str, counter: str):
    """``(counter, n)`` for the size of ``pcoll`` (0 when empty)."""
    return (pcoll
            | f"{label}Ones" >> beam.Map(lambda _: 1)
            | f"{label}Sum" >> beam.CombineGlobally(sum)
            | f"{label}Name" >> beam.Map(lambda n: (counter, n)))


# --- the composite ---------------------------------------------------------------------------------


def minhash_params(near: dict) -> tuple[int, int, int]:
    """``MinHasher(*minhash_params(cfg))``: the signatures a ``near_dedup``-shaped section
    (``num_perm``, ``ngram``, ``seed``) asks for; shared by every job that compares signatures."""
    return int(near["num_perm"]), int(near["ngram"]), int(near["seed"])


class _Prepare:
    """record -> ``(id, record, (content hash, rank, signature))``; a counted drop when it shares
    an n-gram with an evaluation set; ``(id, record, None)`` (kept as it is) when its text is null.
    A missing or non-string text field, or a missing id, raises (the record is dead-lettered)."""

    def __init__(self, text_field: str, id_field: Optional[str], cfg: dict):
        self.text_field, self.id_field = text_field, id_field
        decon = cfg[DECONTAMINATE]
        self.decontaminate = decon if decon["enabled"] and decon["benchmarks"] else None
        self.exact_steps = list(cfg[EXACT]["normalise"]) if cfg[EXACT]["enabled"] else None
        near = cfg[NEAR]
        self.near = minhash_params(near) if near["enabled"] else None
        self.keep = KeepRule(**cfg["keep"])
        self.index = self.hasher = None

    def setup(self) -> None:
        if self.decontaminate:
            self.index = EvalIndex.from_config(self.decontaminate)
        if self.near:
            self.hasher = mh.MinHasher(*self.near)

    def __call__(self, record: dict) -> list:
        text = text_of(record, self.text_field)
        rid = record_id(record, self.id_field)
        if text is None:
            return [Count("dedup/no_text"), (rid, record, None)]
        if self.index:
            matched = self.index.matches(text)
            if matched:
                return ([Count(f"decontaminate/{name}/matched") for name in matched]
                        + [Drop(counter_name(DECONTAMINATE, matched[0]))])
        events = []
        content = mh.content_hash(text, self.exact_steps) if self.exact_steps is not None else None
        sig = mh.signature_bytes(self.hasher.signature(text)) if self.hasher else None
        if self.hasher and sig is None:
            events.append(Count("dedup/near/no_tokens"))
        events.append((rid, record, (content, self.keep.rank(record, text), sig)))
        return events


class _RouteWithSetup(Route):
    """``Route`` for a function with per-worker state, built once in ``setup()``."""

    def setup(self):
        super().setup()
        self.fn.setup()


def _resolve(rep_id, ones, duplicates):
    """A representative's decision (near cluster, or its exact group), and its exact duplicates'."""
    decision = ones.get("near")
    if decision is None:
        copies = ones.get("copies", 1)
        if copies < 2:
            return
        decision = (rep_id, copies, True, "kept", 1.0)
    yield rep_id, decision
    for duplicate in duplicates:
        yield duplicate, (decision[0], decision[1], False, "exact", decision[4])


class _ApplyDecision:
    """``(id, {record: [...], decision: [...]})`` -> the kept record, or a counted drop; a
    ``clusters`` row for every id in a cluster."""

    def __init__(self, table: str, collapse_copies: bool, max_raw_chars: int):
        self.table, self.collapse_copies, self.max_raw_chars = table, collapse_copies, max_raw_chars

    def __call__(self, element) -> list:
        rid, grouped = element
        records, decisions = list(grouped["record"]), list(grouped["decision"])
        if not records:
            return []
        if len(records) > 1:
            keyed = sorted((canonical_json(r), i) for i, r in enumerate(records))
            if keyed[0][0] != keyed[-1][0]:
                error = f"id {rid!r} is shared by {len(records)} different records; ids must be unique"
                return [dead_letter("dedup", self.table, rid, error, r, max_raw_chars=self.max_raw_chars)
                        for r in records]
            records = [records[i] for _, i in keyed]
        decision = min(decisions) if decisions else None
        events = []
        if decision is not None:
            cluster_id, size, kept, match, similarity = decision
            events.append(beam.pvalue.TaggedOutput(CLUSTERS, {
                "id": rid, "cluster_id": cluster_id, "cluster_size": size, "kept": kept, "match": match,
                "jaccard": similarity}))
        for i, record in enumerate(records):
            if i and self.collapse_copies:
                events.append(Drop(EXACT_DROP))   # the same record again, id and all
            elif decision is None or decision[2]:
                events.append(record)
            else:
                events.append(Drop(EXACT_DROP if decision[3] == "exact" else NEAR_DROP))
        return events


def check_config(cfg: dict) -> None:
    """Raise ``ValueError`` for a ``dedup`` section that cannot run."""
    mh.check_normalisers(cfg[EXACT]["normalise"])
    KeepRule(**cfg["keep"])
    if cfg[NEAR]["enabled"]:
        NearDedup(cfg[NEAR])
    decon = cfg[DECONTAMINATE]
    if decon["enabled"] and decon["benchmarks"]:
        EvalIndex(decon.get("word_ngram"), decon.get("char_window"))


class Deduplicate(beam.PTransform):
    """records -> ``kept`` records, ``clusters`` rows, ``dead_letter`` and ``stats``
    (``Ledger.take`` returns ``kept``; read ``clusters`` from the same dict).

    ``text_field``: the text to compare; ``id_field``: a unique id (None: a hash of the whole
    record, so identical records share it); ``config``: the job configuration (its ``dedup``
    and ``dead_letter`` sections); ``table``: the table named in dead letters."""

    def __init__(self, text_field: str, id_field: Optional[str], config: dict, table: str = "records"):
        super().__init__()
        self.text_field, self.id_field, self.table = text_field, id_field, table
        self.cfg = config["dedup"]
        self.max_raw_chars = config["dead_letter"]["max_raw_chars"]
        check_config(self.cfg)

    def expand(self, records):
        cfg, table, max_raw = self.cfg, self.table, self.max_raw_chars
        id_field = self.id_field
        prepared = records | "KeyAndSign" >> beam.ParDo(_RouteWithSetup(
            _Prepare(self.text_field, id_field, cfg), "dedup", table,
            key_of=lambda r: key_of_record(r, id_field), max_raw_chars=max_raw,
        )).with_outputs(DEAD_LETTER, STATS, main="kept")
        keyed = prepared.kept | "KeyRecordById" >> beam.Map(lambda e: (e[0], e[1]))
        metas = prepared.kept | "DedupFeatures" >> beam.FlatMap(lambda e: [(e[0], e[2])] if e[2] is not None else [])
        stats = [prepared[STATS]]

        if cfg[EXACT]["enabled"]:
            exact = metas | "ExactDedup" >> ExactDedup()
            reps, duplicates = exact["reps"], exact["duplicates"]
            stats.append(exact[STATS])
        else:
            reps = metas | "EveryRecordItsOwnRep" >> beam.Map(lambda kv: (kv[0], (kv[1][1], kv[1][2], 1)))
            duplicates = records.pipeline | "NoExactDuplicates" >> beam.Create([])
        if cfg[NEAR]["enabled"]:
            near = reps | "NearDedup" >> NearDedup(cfg[NEAR])
            near_decisions = near["decisions"]
            stats.append(near[STATS])
        else:
            near_decisions = records.pipeline | "NoNearDuplicates" >> beam.Create([])

        copies = reps | "CopiesOfRep" >> beam.FlatMap(lambda kv: [(kv[0], kv[1][2])] if kv[1][2] > 1 else [])
        resolved = stream_join("ResolveClusters", {"near": near_decisions, "copies": copies}, duplicates, _resolve)
        applied = (
            {"record": keyed, "decision": resolved.out}
            | "JoinDecisionsById" >> beam.CoGroupByKey()
            | "ApplyDecisions" >> beam.ParDo(Route(
                _ApplyDecision(table, bool(cfg[EXACT]["enabled"]), max_raw), "dedup", table,
                key_of=lambda e: e[0], max_raw_chars=max_raw)).with_outputs(DEAD_LETTER, STATS, CLUSTERS, main="kept"))
        stats += [resolved[STATS], applied[STATS]]
        return {
            "kept": applied.kept,
            CLUSTERS: applied[CLUSTERS],
            DEAD_LETTER: (prepared[DEAD_LETTER], applied[DEAD_LETTER]) | "DedupDeadLetters" >> beam.Flatten(),
            STATS: tuple(stats) | "DedupStats" >> beam.Flatten(),
        }
