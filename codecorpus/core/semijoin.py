"""The semi-join before a contents join: only the blobs some record names reach its shuffles.

``contents`` is the biggest table of a dump (every blob of every repository), and a join would
shuffle all of it to meet the few requests: on the shared sample the commit job's candidates
name 22 % of the blobs, the files job's HEAD files fewer still. So the requesters' blob ids go,
as 64-bit fingerprints, into one bounded side input (``FingerprintSet``), and the step that
reads ``contents`` passes only the rows it names. Used by the commits job (the candidates' before
and after blobs) and the files job (the files table's blob ids).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable, Iterable

import apache_beam as beam
import numpy as np

from codecorpus.core.routing import DEAD_LETTER, STATS, Count, routed

BLOBS_KEPT = "join/contents/requested"          # named by a requester: go on to the join
BLOBS_SKIPPED = "join/contents/not_requested"   # named by none: left out before any shuffle


def blob_fingerprint(blob_id) -> int:
    """A 64-bit fingerprint of a blob id (any id, not only a hex sha; the same in every process).
    Two ids sharing one only lets an unneeded blob through to the exact join, which drops it."""
    text = blob_id if isinstance(blob_id, str) else repr(blob_id)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


# The side input every worker holds is bounded: the exact sorted fingerprints while they fit in
# MAX_FILTER_BYTES (8 bytes per blob: 8 M blobs), past that a Bloom filter of MAX_FILTER_BYTES.
# A full BigQuery run names ~176 M blobs (docs/scale.md A6): 1.4 GB exact; the 64 MiB filter
# (3 bits per blob, 2 probes) lets about a quarter of the unneeded blobs through to the exact
# join, which drops them, and still keeps three quarters of them out of every shuffle.
MAX_FILTER_BYTES = 64 << 20
BLOOM_PROBES = 2


class BlobFilter:
    """Membership of blob fingerprints: ``exact`` (a sorted ``uint64`` array) or a Bloom filter
    (``bits``, a ``uint8`` array). No false negatives either way."""

    __slots__ = ("exact", "bits")

    def __init__(self, exact=None, bits=None):
        self.exact, self.bits = exact, bits

    @staticmethod
    def _positions(fingerprints: np.ndarray, nbits: int) -> np.ndarray:
        # double hashing: probe i at h1 + i * h2 (h2 odd), the two halves of the 64-bit fingerprint
        h1 = fingerprints & np.uint64(0xFFFFFFFF)
        h2 = (fingerprints >> np.uint64(32)) | np.uint64(1)
        return np.stack([(h1 + np.uint64(i) * h2) % np.uint64(nbits) for i in range(BLOOM_PROBES)])

    @classmethod
    def bloom(cls, fingerprints: np.ndarray, nbytes: int) -> "BlobFilter":
        bits = np.zeros(nbytes, dtype=np.uint8)
        cls._add(bits, fingerprints)
        return cls(bits=bits)

    @classmethod
    def _add(cls, bits: np.ndarray, fingerprints: np.ndarray) -> None:
        if len(fingerprints):
            pos = cls._positions(fingerprints, len(bits) * 8).ravel()
            np.bitwise_or.at(bits, (pos >> np.uint64(3)).astype(np.int64),
                             (np.uint8(1) << (pos & np.uint64(7)).astype(np.uint8)))

    def __contains__(self, fingerprint: int) -> bool:
        if self.exact is not None:
            fp = np.uint64(fingerprint)
            i = int(np.searchsorted(self.exact, fp))
            return i < len(self.exact) and self.exact[i] == fp
        # once per contents row: plain ints (the same positions as _positions, which cannot wrap:
        # h1 < 2**32 and i * h2 < 2**32 * BLOOM_PROBES)
        h1, h2, nbits = fingerprint & 0xFFFFFFFF, (fingerprint >> 32) | 1, len(self.bits) * 8
        return all(self.bits[p >> 3] & (1 << (p & 7))
                   for p in ((h1 + i * h2) % nbits for i in range(BLOOM_PROBES)))

    def nbytes(self) -> int:
        return (self.exact if self.exact is not None else self.bits).nbytes


class FingerprintSet(beam.CombineFn):
    """Fingerprints -> a ``BlobFilter`` of at most ``max_bytes``: the sorted distinct fingerprints
    while they fit, a Bloom filter of ``max_bytes`` once they do not. Inputs are buffered and
    folded in every ``compact_every``, so an accumulator holds at most that many Python ints
    besides its array."""

    def __init__(self, compact_every: int = 1 << 16, max_bytes: int = MAX_FILTER_BYTES):
        self.compact_every, self.max_bytes = compact_every, max_bytes

    def _compact(self, acc):
        f, pending = acc
        if pending:
            new = np.fromiter(pending, dtype=np.uint64, count=len(pending))
            if f.exact is not None:
                merged = np.union1d(f.exact, new)
                f = BlobFilter(exact=merged) if merged.nbytes <= self.max_bytes else \
                    BlobFilter.bloom(merged, self.max_bytes)
            else:
                BlobFilter._add(f.bits, new)
        return [f, []]

    def create_accumulator(self):
        return [BlobFilter(exact=np.empty(0, dtype=np.uint64)), []]

    def add_input(self, acc, fingerprint):
        acc[1].append(fingerprint)
        return self._compact(acc) if len(acc[1]) >= self.compact_every else acc

    def merge_accumulators(self, accs):
        filters = [self._compact(acc)[0] for acc in accs]
        exact = [f.exact for f in filters if f.exact is not None]
        blooms = [f.bits for f in filters if f.exact is None]
        merged = np.unique(np.concatenate(exact)) if exact else np.empty(0, dtype=np.uint64)
        if not blooms and merged.nbytes <= self.max_bytes:
            return [BlobFilter(exact=merged), []]
        bits = functools.reduce(np.bitwise_or, blooms) if blooms else np.zeros(self.max_bytes, dtype=np.uint8)
        BlobFilter._add(bits, merged)
        return [BlobFilter(bits=bits), []]

    def extract_output(self, acc):
        return self._compact(acc)[0]


def is_requested(requested: BlobFilter, blob_id) -> bool:
    return blob_fingerprint(blob_id) in requested


def requested_blob_events(blob: dict, fingerprints: BlobFilter):
    """A ``contents`` row, kept when some requester names its id (else only counted)."""
    if is_requested(fingerprints, blob.get("id")):
        return [blob, Count(BLOBS_KEPT)]
    return [Count(BLOBS_SKIPPED)]


class KeepRequestedBlobs(beam.PTransform):
    """``contents`` -> the rows whose id some element of ``requesters`` names (``ids_of``: an
    element -> the blob ids it will ask the join for); kept / dead_letter / stats outputs. The
    requested ids travel as one side input of at most ``MAX_FILTER_BYTES`` (``FingerprintSet``),
    so ``contents`` is read once and the blobs nobody names are left out where they are read,
    before the shuffle of the contents join; the join itself stays exact. Counted
    ``join/contents/requested`` and ``join/contents/not_requested``."""

    def __init__(self, requesters, ids_of: Callable[[Any], Iterable]):
        super().__init__()
        self.requesters, self.ids_of = requesters, ids_of

    def expand(self, contents):
        ids_of = self.ids_of
        fingerprints = (self.requesters
                        | "RequestedBlobIds" >> beam.FlatMap(lambda r: [blob_fingerprint(i) for i in ids_of(r)])
                        | "FingerprintSet" >> beam.CombineGlobally(FingerprintSet()))
        outputs = contents | "KeepRequested" >> routed(
            requested_blob_events, "join_contents", "contents", key_of=lambda b: b.get("id"),
            side_inputs=(beam.pvalue.AsSingleton(fingerprints),))
        return {"kept": outputs.kept, DEAD_LETTER: outputs[DEAD_LETTER], STATS: outputs[STATS]}
