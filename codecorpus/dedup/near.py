"""The near-duplicate engine: signatures -> band keys -> buckets -> candidates -> verified edges.

One engine for the three places that look for near-duplicate texts: ``Deduplicate`` (then
connected components make clusters), the mix splits (``mix.mixing.NearDuplicateLinks``: linked
rows stay on one side) and the leakage check (``mix.leakage``: pairs across splits). Each step
is a small transform on ``(node, ...)`` pairs, where a node is whatever names a text (an id, a
split and row id):

    (node, text)         -> SignTexts          (node, signature bytes); too-short texts get none
                                               (batches of about ``SIGN_BATCH_BYTES`` of text)
    (node, signature)    -> Buckets            (band key, nodes sharing that band): LSH buckets
    buckets              -> CandidateStars     (larger, smaller) edges: a star per bucket
                                               (n - 1 edges, not n^2), giant buckets split
    candidates           -> VerifyCandidates   the candidates whose signatures agree on at
                                               least ``threshold`` of their values
    (node, signature)    -> NearDuplicateEdges the whole chain, for the clustering users

``NearSettings`` is the one frozen settings object, built from a ``defaults.yaml`` section
(``dedup.near_dedup`` or ``mix.leakage_check``) by ``NearSettings.from_config``.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import apache_beam as beam
import xxhash

from codecorpus.config import ConfigError
from codecorpus.core.graph import counted, orient, reiterable, stream_join
from codecorpus.core.routing import STATS
from codecorpus.dedup import minhash as mh

GIANT_BUCKETS = "dedup/near/giant_buckets"
GIANT_BUCKET_MEMBERS = "dedup/near/giant_bucket_members"
VERIFIED_EDGES = "dedup/near/verified_edges"
REJECTED_EDGES = "dedup/near/rejected_edges"

# Keys of a near-duplicate section that other stages read (dedup's verify and max_rounds, the
# band-choice weights, the section's switch): accepted here, not part of the settings.
_OTHER_KEYS = {"enabled", "verify", "max_rounds", "fp_weight", "fn_weight"}


def _integer(section: dict, key: str, least: int, where: str) -> int:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{where}.{key} must be an integer >= {least}, got {value!r}")
    return value


class NearSettings(NamedTuple):
    """MinHash (``num_perm`` permutations of ``ngram``-token shingles, ``seed``), LSH ``bands`` x
    ``rows``, the Jaccard ``threshold`` of a near-duplicate and the ``bucket_cap`` of a bucket."""

    num_perm: int
    ngram: int
    seed: int
    threshold: float
    bands: int
    rows: int
    bucket_cap: int

    @classmethod
    def from_config(cls, section: dict, where: str) -> "NearSettings":
        """The settings of a config section (``where`` names it in errors, e.g.
        ``dedup.near_dedup``); null ``bands`` and ``rows`` are chosen for the threshold
        (``minhash.optimal_bands``, weighted by the section's ``fp_weight`` / ``fn_weight``
        when it has them). ``ConfigError`` when the section cannot run."""
        if not isinstance(section, dict):
            raise ConfigError(f"{where} must be a mapping, got {section!r}")
        needed = set(cls._fields)
        missing, unknown = needed - set(section), set(section) - needed - _OTHER_KEYS
        if missing or unknown:
            raise ConfigError(f"{where}: " + "; ".join(
                text for text in (f"missing key(s) {sorted(missing)}" if missing else "",
                                  f"unknown key(s) {sorted(unknown)}" if unknown else "") if text))
        num_perm = _integer(section, "num_perm", 1, where)
        ngram = _integer(section, "ngram", 1, where)
        seed = _integer(section, "seed", 0, where)
        cap = _integer(section, "bucket_cap", 2, where)
        threshold = section["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise ConfigError(f"{where}.threshold must be between 0 and 1 (exclusive), got {threshold!r}")
        bands, rows = section["bands"], section["rows"]
        if (bands is None) != (rows is None):
            raise ConfigError(f"{where}: set both bands and rows, or neither (null: optimal for the threshold)")
        if bands is None:
            weights = (section["fp_weight"], section["fn_weight"]) if "fp_weight" in section else ()
            bands, rows = mh.optimal_bands(float(threshold), num_perm, *weights)
        else:
            bands, rows = _integer(section, "bands", 1, where), _integer(section, "rows", 1, where)
        if bands * rows > num_perm:
            raise ConfigError(f"{where}: bands x rows = {bands * rows} exceeds num_perm = {num_perm}")
        return cls(num_perm, ngram, seed, float(threshold), bands, rows, cap)

    @property
    def minhash(self) -> tuple[int, int, int]:
        """``MinHasher(*settings.minhash)``: signatures that mean the same thing everywhere."""
        return self.num_perm, self.ngram, self.seed


# --- pure parts ----------------------------------------------------------------------------------


def signature(hasher: mh.MinHasher, text: Optional[str], short: bool = True) -> Optional[bytes]:
    """``text``'s signature bytes, or None. ``short``: a text of fewer than ``ngram`` tokens is
    one shingle (dedup compares every record); otherwise it gets none (a few tokens say nothing
    about two tables sharing a text). No tokens: None either way."""
    if not short:
        if not text:
            return None
        shingles = mh.ngram_hashes(mh.token_hashes(text, hasher.seed), hasher.ngram, hasher.seed, short=False)
        return mh.signature_bytes(hasher.signature_of_shingles(shingles))
    return mh.signature_bytes(hasher.signature(text))


def signatures(hasher: mh.MinHasher, texts, short: bool = True) -> list[Optional[bytes]]:
    """``signature`` of each text, bit for bit, computed for the batch in one pass of NumPy."""
    sigs, has = hasher.signature_matrix(texts, short)
    rows = sigs.astype("<u4", copy=False)
    return [rows[i].tobytes() if has[i] else None for i in range(len(texts))]


# Texts are signed in batches of about this many characters (``SignBatches``): enough to share
# NumPy's per-call costs among many short texts, small enough that a batch's arrays stay in
# cache (1 MiB measured fastest on the shared sample; 4 MiB is slower than 256 KiB).
SIGN_BATCH_BYTES = 1 << 20


def text_weight(text: Optional[str]) -> int:
    """A text's share of a batch: its length plus a fixed cost, so empty texts batch too."""
    return 64 + len(text or "")


def batch_by_bytes(label: str, weight, max_bytes: int = SIGN_BATCH_BYTES) -> beam.PTransform:
    """``BatchElements`` bounded by ``weight(element)`` (characters), not by element count."""
    return label >> beam.BatchElements(min_batch_size=max_bytes, max_batch_size=max_bytes,
                                       element_size_fn=weight, record_metrics=False)


def band_entries(node, sig: bytes, settings: NearSettings) -> list:
    """``(band key, node)`` for each LSH band of a signature."""
    return [(key, node) for key in mh.band_keys(sig, settings.bands, settings.rows)]


def star_edges(members, cap: int):
    """One bucket's members (read twice) -> star edges ``(member, centre)`` and counter events.

    The centre is the bucket's smallest member. A bucket of more than ``cap`` members is split
    by a hash of the member into sub-stars of about ``cap`` whose centres join the bucket's
    centre, so no later stage meets a group larger than ``cap`` because of it (counted)."""
    members = reiterable(members)
    count, smallest = 0, None
    for m in members:
        count += 1
        smallest = m if smallest is None or m < smallest else smallest
    if count < 2:
        return
    if count <= cap:
        for m in members:
            if m != smallest:
                yield m, smallest
        return
    parts = math.ceil(count / cap)
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
    yield from counted(GIANT_BUCKETS)
    yield from counted(GIANT_BUCKET_MEMBERS, count)


def is_match(sig_a: Optional[bytes], sig_b: Optional[bytes], threshold: float) -> bool:
    return sig_a is not None and sig_b is not None and mh.jaccard_estimate(sig_a, sig_b) >= threshold


# --- Beam steps ----------------------------------------------------------------------------------


class _SignBatch(beam.DoFn):
    def __init__(self, minhash: tuple[int, int, int], short: bool):
        self.minhash, self.short = minhash, short
        self.hasher = None

    def setup(self):
        self.hasher = mh.MinHasher(*self.minhash)

    def process(self, batch):
        for (node, _text), sig in zip(batch, signatures(self.hasher, [text for _node, text in batch], self.short)):
            if sig is not None:
                yield node, sig


class SignTexts(beam.PTransform):
    """``(node, text)`` -> ``(node, signature bytes)``; nothing for a text without one. Signed
    in batches bounded by ``SIGN_BATCH_BYTES``; each signature is the one ``signature`` gives."""

    def __init__(self, settings: NearSettings, short: bool = True):
        super().__init__()
        self.settings, self.short = settings, short

    def expand(self, texts):
        return (texts
                | batch_by_bytes("BatchTexts", lambda kv: text_weight(kv[1]))
                | "Sign" >> beam.ParDo(_SignBatch(self.settings.minhash, self.short)))


class Buckets(beam.PTransform):
    """``(node, signature bytes)`` -> ``(band key, nodes)``: the LSH buckets."""

    def __init__(self, settings: NearSettings):
        super().__init__()
        self.settings = settings

    def expand(self, sigs):
        settings = self.settings
        return (sigs
                | "BandKeys" >> beam.FlatMap(lambda kv: band_entries(kv[0], kv[1], settings))
                | "GroupByBand" >> beam.GroupByKey())


class _StarPerBucket(beam.DoFn):
    def __init__(self, cap: int):
        self.cap = cap

    def process(self, element):
        _, members = element
        yield from star_edges(members, self.cap)


class CandidateStars(beam.PTransform):
    """Buckets -> ``edges``: distinct candidate ``(larger, smaller)`` edges (a star per bucket),
    and ``stats`` (giant buckets)."""

    def __init__(self, bucket_cap: int):
        super().__init__()
        self.cap = bucket_cap

    def expand(self, buckets):
        stars = buckets | "StarPerBucket" >> beam.ParDo(_StarPerBucket(self.cap)).with_outputs(STATS, main="edges")
        edges = stars.edges | "Orient" >> beam.Map(orient) | "DistinctCandidates" >> beam.Distinct()
        return {"edges": edges, STATS: stars[STATS]}


def _carry_signature(node, ones, partners):
    """Key a candidate ``(partner, node)`` by its partner, carrying this end's signature."""
    sig = ones.get("sig")
    for partner in partners:
        yield partner, (node, sig)


class _Verify:
    def __init__(self, threshold: float, counts: bool):
        self.threshold, self.counts = threshold, counts

    def __call__(self, node, ones, partners):
        sig = ones.get("sig")
        accepted = rejected = 0
        for partner, partner_sig in partners:
            if is_match(sig, partner_sig, self.threshold):
                accepted += 1
                yield node, partner
            else:
                rejected += 1
        if self.counts:
            yield from counted(VERIFIED_EDGES, accepted)
            yield from counted(REJECTED_EDGES, rejected)


class VerifyCandidates(beam.PTransform):
    """Candidate edges ``(a, b)`` -> the same edges whose signatures (from ``sigs``, ``(node,
    signature bytes)``) agree on at least ``threshold`` of their values; ``stats`` counts
    verified and rejected edges when ``counts``. Two streaming joins carry each end's
    signature to the edge, so no node's partners are ever held."""

    def __init__(self, sigs, threshold: float, counts: bool = True):
        super().__init__()
        self.sigs, self.threshold, self.counts = sigs, threshold, counts

    def expand(self, candidates):
        by_second = candidates | "BySecond" >> beam.Map(lambda e: (e[1], e[0]))
        half = stream_join("SigOfSecond", {"sig": self.sigs}, by_second, _carry_signature)
        verified = stream_join("SigOfFirst", {"sig": self.sigs}, half.out, _Verify(self.threshold, self.counts))
        return {"edges": verified.out, STATS: (half[STATS], verified[STATS]) | "VerifyStats" >> beam.Flatten()}


class NearDuplicateEdges(beam.PTransform):
    """``(node, signature bytes)`` -> ``edges``: near-duplicate ``(larger, smaller)`` edges
    (verified unless ``verify`` is false), ``candidates`` and ``stats``."""

    def __init__(self, settings: NearSettings, verify: bool = True):
        super().__init__()
        self.settings, self.verify = settings, verify

    def expand(self, sigs):
        stars = sigs | "Buckets" >> Buckets(self.settings) | "CandidateStars" >> CandidateStars(self.settings.bucket_cap)
        stats, edges = [stars[STATS]], stars["edges"]
        if self.verify:
            verified = edges | "Verify" >> VerifyCandidates(sigs, self.settings.threshold)
            edges = verified["edges"]
            stats.append(verified[STATS])
        return {"edges": edges, "candidates": stars["edges"], STATS: tuple(stats) | "NearEdgeStats" >> beam.Flatten()}
