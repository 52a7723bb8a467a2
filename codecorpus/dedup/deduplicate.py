"""Decontamination, exact and near deduplication as Beam transforms (REFERENCE.md §4).

``Deduplicate(text, id_field, config)`` reads as the recipe (``text``: a field name, or a
function of the record, e.g. the lines a commit changes):

    records
    -> KeyAndSign         id, content hash, keep-rule rank, MinHash signature (``Features``);
                          records sharing a long n-gram with an evaluation set are dropped
                                                                            filter/decontaminate/<benchmark>
                          (signatures in batches of ``near.SIGN_BATCH_BYTES`` of text, bit for bit
                          the per-record ones)
    -> ExactDedup         one CombinePerKey per content hash keeps the best  filter/exact_dedup/duplicate
    -> NearDedup          the near-duplicate engine (``dedup.near``: band keys -> buckets -> a star
                          per bucket -> edges verified on the signatures' Jaccard estimate) ->
                          ConnectedComponents (``core.graph``) -> CombinePerKey keeps the best of
                          each component                                    filter/near_dedup/near_duplicate
    -> ResolveClusters    exact duplicates follow their representative into its cluster
    -> JoinDecisionsById  records meet their ``Decision`` by id (CoGroupByKey)  kept records + ``clusters`` rows

Only ids, content hashes, ranks and signatures move through the dedup stages, and no stage
holds a global index or a whole bucket: groups are read in two streaming passes (find the
centre, then emit), buckets larger than ``bucket_cap`` are split into sub-stars (counted), and
the best of a cluster is a combiner-lifted ``CombinePerKey``. Records are shuffled once, at the
end, to meet their decision, with their ``packed`` text fields zstd-compressed (``core.blobs``;
decompressed by ``ApplyDecisions``). Counters: ``filter/...`` for drops (so a calling job's accounting
identity holds), ``dedup/...`` and ``decontaminate/...`` for what the stages did.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Union

import apache_beam as beam
import xxhash

from codecorpus.core import blobs
from codecorpus.core.filters import counter_name
from codecorpus.core.graph import ConnectedComponents, counted, stats_of_count, stream_join, zero_counters
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Drop, Route, dead_letter, route_events
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.decontaminate import EvalIndex
from codecorpus.dedup.near import NearDuplicateEdges, NearSettings, batch_by_bytes, signatures, text_weight

CLUSTERS = "clusters"
EXACT, NEAR, DECONTAMINATE = "exact_dedup", "near_dedup", "decontaminate"
EXACT_DROP = counter_name(EXACT, "duplicate")
NEAR_DROP = counter_name(NEAR, "near_duplicate")
KEEP_RULES = ("smallest_id", "best")
NEAR_COUNTERS = [f"dedup/near/{name}" for name in (
    "giant_buckets", "giant_bucket_members", "verified_edges", "rejected_edges", "clusters", "linked_below_threshold")]


# --- what flows between the stages ---------------------------------------------------------------


class Features(NamedTuple):
    """What the dedup stages know of a record: its normalised-content hash (None: exact dedup
    off), keep-rule rank and MinHash signature bytes (None: near dedup off, or no tokens)."""
    content: Optional[bytes]
    rank: tuple
    signature: Optional[bytes]


class Rep(NamedTuple):
    """A representative of one distinct content: its rank, signature and how many records share
    the content (``copies``, itself included)."""
    rank: tuple
    signature: Optional[bytes]
    copies: int


class Member(NamedTuple):
    """A candidate for the kept member of a cluster: the smallest ``(rank, id)`` wins."""
    rank: tuple
    id: str
    signature: Optional[bytes]


class ToSign(NamedTuple):
    """A record on its way to the batched signing step: its ``Features`` still lack the
    signature of ``text``."""
    id: str
    record: dict
    features: Features
    text: str


class Decision(NamedTuple):
    """Where one id went: its cluster (the kept member's id) and size in records, whether it is
    kept, how it matched (``kept`` | ``exact`` | ``near``) and its estimated Jaccard similarity
    to the kept member."""
    cluster_id: str
    cluster_size: int
    kept: bool
    match: str
    jaccard: float


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


# --- exact dedup ---------------------------------------------------------------------------------


def better(a: Optional[Member], b: Optional[Member]) -> Optional[Member]:
    """The better of two candidates (None loses); the signature only breaks the tie of an id
    used twice, so the choice never depends on arrival order."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (a.rank, a.id, a.signature or b"") <= (b.rank, b.id, b.signature or b"") else b


class _CountAndBest(beam.CombineFn):
    """(weight, Member) -> (total weight, best Member): associative and commutative, so the
    result never depends on how bundles split a group."""

    def create_accumulator(self):
        return 0, None

    def add_input(self, acc, element):
        weight, candidate = element
        return acc[0] + weight, better(acc[1], candidate)

    def merge_accumulators(self, accumulators):
        total, best = 0, None
        for weight, candidate in accumulators:
            total, best = total + weight, better(best, candidate)
        return total, best

    def extract_output(self, acc):
        return acc


class ExactDedup(beam.PTransform):
    """``(id, Features)`` -> ``reps``: ``(id, Rep)``, one per distinct content (the best by rank,
    then id); ``duplicates``: ``(rep id, id)``."""

    def expand(self, features):
        best = (features
                | "ByContentHash" >> beam.Map(lambda kv: (kv[1].content, (1, Member(kv[1].rank, kv[0], kv[1].signature))))
                | "BestPerContent" >> beam.CombinePerKey(_CountAndBest()))
        reps = best | "Representatives" >> beam.Map(
            lambda kv: (kv[1][1].id, Rep(kv[1][1].rank, kv[1][1].signature, kv[1][0])))
        members = features | "MemberByContentHash" >> beam.Map(lambda kv: (kv[1].content, kv[0]))
        joined = stream_join("Duplicates", {"best": best}, members, _exact_duplicates)
        return {"reps": reps, "duplicates": joined.out, STATS: joined[STATS]}


def _exact_duplicates(content_hash, ones, members):
    count, rep = ones["best"]
    if count > 1:
        yield from counted("dedup/exact/clusters")
    for member in members:
        if member != rep.id:
            yield rep.id, member


# --- near dedup ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DedupSettings:
    """The ``dedup`` section, checked once: the decontamination section (None: off or no
    benchmarks), the exact stage's normalisation steps (None: off), the near stage's engine
    settings (None: off) with its ``verify`` and ``max_rounds``, and the keep rule's arguments."""

    decontaminate: Optional[dict]
    exact_normalise: Optional[tuple]
    near: Optional[NearSettings]
    verify: bool
    max_rounds: int
    keep: dict

    @classmethod
    def from_config(cls, cfg: dict) -> "DedupSettings":
        mh.check_normalisers(cfg[EXACT]["normalise"])
        KeepRule(**cfg["keep"])
        near_cfg = cfg[NEAR]
        near = NearSettings.from_config(near_cfg, f"dedup.{NEAR}") if near_cfg["enabled"] else None
        if near is not None and int(near_cfg["max_rounds"]) < 1:
            raise ValueError("dedup.near_dedup.max_rounds must be at least 1")
        decon = cfg[DECONTAMINATE]
        decontaminate = decon if decon["enabled"] and decon["benchmarks"] else None
        if decontaminate:
            EvalIndex(decon.get("word_ngram"), decon.get("char_window"))
        return cls(decontaminate=decontaminate,
                   exact_normalise=tuple(cfg[EXACT]["normalise"]) if cfg[EXACT]["enabled"] else None,
                   near=near, verify=bool(near_cfg["verify"]), max_rounds=int(near_cfg["max_rounds"]),
                   keep=dict(cfg["keep"]))


class _ClusterDecisions:
    def __init__(self, threshold: float):
        self.threshold = threshold

    def __call__(self, label, ones, members):
        size, kept = ones["cluster"]
        yield from counted("dedup/near/clusters")
        for _, member in members:
            if member.id == kept.id:
                yield member.id, Decision(kept.id, size, True, "kept", 1.0)
                continue
            similarity = mh.jaccard_estimate(member.signature, kept.signature)
            if similarity < self.threshold:  # joined through others (A~B~C): say so
                yield from counted("dedup/near/linked_below_threshold")
            yield member.id, Decision(kept.id, size, False, "near", similarity)


class NearDedup(beam.PTransform):
    """``(id, Rep)`` -> ``decisions``: ``(id, Decision)`` for every member of a near-duplicate
    cluster (size counted in records, copies included), and ``stats``."""

    def __init__(self, settings: DedupSettings):
        super().__init__()
        self.settings = settings

    def expand(self, reps):
        near, threshold = self.settings.near, self.settings.near.threshold
        sigs = reps | "Signatures" >> beam.FlatMap(lambda kv: [(kv[0], kv[1].signature)] if kv[1].signature is not None else [])
        found = sigs | "NearDuplicateEdges" >> NearDuplicateEdges(near, verify=self.settings.verify)
        stats = [stats_of_count(found["candidates"], "CountCandidates", "dedup/near/candidate_edges"), found[STATS],
                 zero_counters(reps.pipeline, "ZeroCounters", NEAR_COUNTERS)]
        components = found["edges"] | "ConnectedComponents" >> ConnectedComponents(self.settings.max_rounds)
        members = (
            {"rep": reps, "label": components["labels"]}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "MemberOfComponent" >> beam.FlatMap(_member_of_component))
        clusters = members | "BestPerComponent" >> beam.CombinePerKey(_CountAndBest())
        decisions = stream_join("Decide", {"cluster": clusters}, members, _ClusterDecisions(threshold))
        stats += [components[STATS], decisions[STATS]]
        return {"decisions": decisions.out, STATS: tuple(stats) | "NearStats" >> beam.Flatten()}


def _member_of_component(element):
    """(id, {rep, label}) -> (label, (copies, Member)) for labelled reps."""
    rep_id, grouped = element
    labels, reps = list(grouped["label"]), list(grouped["rep"])
    if labels and reps:
        rep = min(reps, key=repr)
        yield min(labels), (rep.copies, Member(rep.rank, rep_id, rep.signature))


# --- the composite ---------------------------------------------------------------------------------


TextOf = Union[str, Callable[[dict], Optional[str]]]


class _Prepare:
    """record -> ``(id, record, Features)`` (near dedup on: a ``ToSign``, for ``_SignBatch``); a
    counted drop when it shares an n-gram with an evaluation set; ``(id, record, None)`` (kept
    as it is) when its text is null. A missing or non-string text field, or a missing id, raises
    (the record is dead-lettered)."""

    def __init__(self, text: TextOf, id_field: Optional[str], settings: DedupSettings):
        self.text, self.id_field, self.settings = text, id_field, settings
        self.keep = KeepRule(**settings.keep)
        self.index = None

    def setup(self) -> None:
        if self.settings.decontaminate:
            self.index = EvalIndex.from_config(self.settings.decontaminate)

    def __call__(self, record: dict) -> list:
        text = text_of(record, self.text) if isinstance(self.text, str) else self.text(record)
        rid = record_id(record, self.id_field)
        if text is None:
            return [Count("dedup/no_text"), (rid, record, None)]
        if self.index:
            matched = self.index.matches(text)
            if matched:
                return ([Count(f"decontaminate/{name}/matched") for name in matched]
                        + [Drop(counter_name(DECONTAMINATE, matched[0]))])
        steps = self.settings.exact_normalise
        content = mh.content_hash(text, steps) if steps is not None else None
        features = Features(content, self.keep.rank(record, text), None)
        return [ToSign(rid, record, features, text) if self.settings.near else (rid, record, features)]


class _SignBatch(beam.DoFn):
    """A batch of ``_Prepare``'s outputs -> the same with each ``ToSign``'s signature filled in
    (``near.signatures``: one NumPy pass for the batch), ``dedup/near/no_tokens`` counted for a
    text without one; other elements pass as they are."""

    def __init__(self, minhash: tuple[int, int, int]):
        self.minhash = minhash
        self.hasher = None

    def setup(self):
        self.hasher = mh.MinHasher(*self.minhash)

    def process(self, batch):
        sigs = iter(signatures(self.hasher, [e.text for e in batch if isinstance(e, ToSign)]))
        for element in batch:
            if not isinstance(element, ToSign):
                yield element
                continue
            sig = next(sigs)
            if sig is None:
                yield from route_events([Count("dedup/near/no_tokens")], "dedup")
            yield element.id, element.record, element.features._replace(signature=sig)


def _sign_weight(element) -> int:
    return text_weight(element.text if isinstance(element, ToSign) else None)


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
        decision = Decision(rep_id, copies, True, "kept", 1.0)
    yield rep_id, decision
    for duplicate in duplicates:
        yield duplicate, Decision(decision.cluster_id, decision.cluster_size, False, "exact", decision.jaccard)


class _ApplyDecision:
    """``(id, {record: [...], decision: [...]})`` -> the kept record, or a counted drop; a
    ``clusters`` row for every id in a cluster."""

    def __init__(self, table: str, collapse_copies: bool, packed: tuple = ()):
        self.table, self.collapse_copies, self.packed = table, collapse_copies, packed

    def __call__(self, element) -> list:
        rid, grouped = element
        records, decisions = [blobs.unpack(r, self.packed) for r in grouped["record"]], list(grouped["decision"])
        if not records:
            return []
        if len(records) > 1:
            keyed = sorted((canonical_json(r), i) for i, r in enumerate(records))
            if keyed[0][0] != keyed[-1][0]:
                error = f"id {rid!r} is shared by {len(records)} different records; ids must be unique"
                return [dead_letter("dedup", self.table, rid, error, r)
                        for r in records]
            records = [records[i] for _, i in keyed]
        decision = min(decisions) if decisions else None
        events = []
        if decision is not None:
            events.append(beam.pvalue.TaggedOutput(CLUSTERS, {"id": rid, **decision._asdict()}))
        for i, record in enumerate(records):
            if i and self.collapse_copies:
                events.append(Drop(EXACT_DROP))   # the same record again, id and all
            elif decision is None or decision.kept:
                events.append(record)
            else:
                events.append(Drop(EXACT_DROP if decision.match == "exact" else NEAR_DROP))
        return events


def check_config(cfg: dict) -> DedupSettings:
    """The settings of a ``dedup`` section; ``ValueError`` (``ConfigError``) when it cannot run."""
    return DedupSettings.from_config(cfg)


class Deduplicate(beam.PTransform):
    """records -> ``kept`` records, ``clusters`` rows, ``dead_letter`` and ``stats``
    (``Ledger.take`` returns ``kept``; read ``clusters`` from the same dict).

    ``text``: the text to compare, a field name (the field must be there, a string or null) or
    a function of the record (the commit job compares the lines a commit changes); ``id_field``:
    a unique id (None: a hash of the whole record, so identical records share it); ``config``:
    the job configuration (its ``dedup`` and ``dead_letter`` sections); ``table``: the table
    named in dead letters; ``packed``: the record's text fields, carried compressed through
    the shuffle that joins records to their decisions (``core.blobs``)."""

    def __init__(self, text: TextOf, id_field: Optional[str], config: dict, table: str = "records",
                 packed: tuple = ()):
        super().__init__()
        self.text, self.id_field, self.table, self.packed = text, id_field, table, tuple(packed)
        self.settings = check_config(config["dedup"])

    def expand(self, records):
        settings, table = self.settings, self.table
        id_field = self.id_field
        prepared = records | "KeyAndSign" >> beam.ParDo(_RouteWithSetup(
            _Prepare(self.text, id_field, settings), "dedup", table,
            key_of=lambda r: key_of_record(r, id_field),
        )).with_outputs(DEAD_LETTER, STATS, main="kept")
        prepared_records, stats = prepared.kept, [prepared[STATS]]
        if settings.near is not None:
            signed = (prepared_records | batch_by_bytes("BatchToSign", _sign_weight)
                      | "SignBatches" >> beam.ParDo(_SignBatch(settings.near.minhash)).with_outputs(STATS, main="kept"))
            prepared_records = signed.kept
            stats.append(signed[STATS])
        packed = self.packed
        keyed = prepared_records | "KeyRecordById" >> beam.Map(lambda e: (e[0], blobs.pack(e[1], packed)))
        features = prepared_records | "DedupFeatures" >> beam.FlatMap(lambda e: [(e[0], e[2])] if e[2] is not None else [])

        if settings.exact_normalise is not None:
            exact = features | "ExactDedup" >> ExactDedup()
            reps, duplicates = exact["reps"], exact["duplicates"]
            stats.append(exact[STATS])
        else:
            reps = features | "EveryRecordItsOwnRep" >> beam.Map(lambda kv: (kv[0], Rep(kv[1].rank, kv[1].signature, 1)))
            duplicates = records.pipeline | "NoExactDuplicates" >> beam.Create([])
        if settings.near is not None:
            near = reps | "NearDedup" >> NearDedup(settings)
            near_decisions = near["decisions"]
            stats.append(near[STATS])
        else:
            near_decisions = records.pipeline | "NoNearDuplicates" >> beam.Create([])

        copies = reps | "CopiesOfRep" >> beam.FlatMap(lambda kv: [(kv[0], kv[1].copies)] if kv[1].copies > 1 else [])
        resolved = stream_join("ResolveClusters", {"near": near_decisions, "copies": copies}, duplicates, _resolve)
        applied = (
            {"record": keyed, "decision": resolved.out}
            | "JoinDecisionsById" >> beam.CoGroupByKey()
            | "ApplyDecisions" >> beam.ParDo(Route(
                _ApplyDecision(table, settings.exact_normalise is not None, packed), "dedup", table,
                key_of=lambda e: e[0])).with_outputs(DEAD_LETTER, STATS, CLUSTERS, main="kept"))
        stats += [resolved[STATS], applied[STATS]]
        return {
            "kept": applied.kept,
            CLUSTERS: applied[CLUSTERS],
            DEAD_LETTER: (prepared[DEAD_LETTER], applied[DEAD_LETTER]) | "DedupDeadLetters" >> beam.Flatten(),
            STATS: tuple(stats) | "DedupStats" >> beam.Flatten(),
        }
