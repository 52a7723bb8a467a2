"""MinHash near-duplicate detection as pure functions on text (no Beam): REFERENCE.md §4.

- ``normalise`` / ``content_hash``: the exact-duplicate key, a 128-bit xxh3 hash of the text
  after configurable normalisation steps (``NORMALISERS``).
- ``tokens``: maximal runs of ASCII letters, digits and ``_`` or of non-ASCII characters, after
  lower-casing: BigCode's "split on non-alphanumerics", with non-ASCII letters kept in tokens.
- ``token_hashes`` -> ``ngram_hashes``: each token is hashed once (a 64-bit polynomial hash of
  its UTF-8 bytes, computed for all tokens at once from prefix sums in NumPy, then mixed with
  MurmurHash3's finaliser); an n-gram's hash combines its tokens' hashes with per-position
  multipliers and the same finaliser. No shingle string is ever built.
- ``MinHasher.signature``: ``num_perm`` values, the minimum over the shingles of
  ``a_k * x + b_k mod 2**32`` (``a_k`` odd, seeded), ``x`` the top 32 bits of the shingle hash:
  the same permutation family as datasketch 2.0's default ``affine32`` scheme.
- ``MinHasher.signatures``: the same signatures, bit for bit, for a batch of texts in one pass
  of NumPy (``batch_token_hashes`` -> ``batch_ngram_hashes`` -> a segmented minimum), so a
  short text costs a share of a few vector operations instead of a dozen calls of its own.
- ``optimal_bands``: the LSH bands x rows that minimise weighted false positives + false
  negatives for a threshold (BigCode's choice: 25 x 10 for 256 permutations at 0.7).
- ``band_keys``, ``jaccard_estimate``, ``exact_jaccard``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Callable, Optional, Sequence

import numpy as np
import xxhash

# --- exact-duplicate key -----------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")

NORMALISERS: dict[str, Callable[[str], str]] = {
    "nfc": lambda t: unicodedata.normalize("NFC", t),              # one spelling per character
    "newlines": lambda t: t.replace("\r\n", "\n").replace("\r", "\n"),  # CRLF / CR -> LF
    "strip_line_ends": lambda t: "\n".join(line.rstrip() for line in t.split("\n")),  # faster than a regex
    "collapse_whitespace": lambda t: _WHITESPACE.sub(" ", t),      # any whitespace run -> one space
    "lowercase": str.lower,
    "strip": str.strip,                                            # leading / trailing whitespace
}


def check_normalisers(steps: Sequence[str]) -> None:
    unknown = [s for s in steps if s not in NORMALISERS]
    if unknown:
        raise ValueError(f"unknown normalisation step(s) {unknown}; known: {sorted(NORMALISERS)}")


def normalise(text: str, steps: Sequence[str]) -> str:
    for step in steps:
        text = NORMALISERS[step](text)
    return text


def content_hash(text: str, steps: Sequence[str] = ()) -> bytes:
    """16-byte xxh3-128 digest of the normalised text: equal digests = exact duplicates."""
    return xxhash.xxh3_128_digest(normalise(text, steps).encode("utf-8", "surrogatepass"))


# --- hashing tokens and n-grams in NumPy -------------------------------------------------------

_U64 = np.uint64
_BLOCK = 1 << 16          # spans are hashed in windows of at most this many values
_P = 0x100000001B3        # odd multiplier of the polynomial hash (the 64-bit FNV prime)
_FMIX = (_U64(33), _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53))

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz", np.uint8)] = True
_WORD_BYTE[0x80:] = True  # every byte of a multi-byte UTF-8 character

TOKEN = re.compile(r"[0-9A-Za-z_\u0080-\U0010FFFF]+")


def _powers(base: int, n: int) -> np.ndarray:
    out = np.full(n, base, dtype=_U64)
    out[0] = 1
    return np.cumprod(out, dtype=_U64)  # wraps modulo 2**64, as intended


_POW = _powers(_P, _BLOCK + 1)
_POW_INV = _powers(pow(_P, -1, 1 << 64), _BLOCK + 1)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: an avalanching bijection, element-wise."""
    shift, m1, m2 = _FMIX
    h = h ^ (h >> shift)
    h *= m1
    h ^= h >> shift
    h *= m2
    h ^= h >> shift
    return h


@functools.lru_cache(maxsize=64)
def _seed_words(seed: int, n: int, odd: bool = False) -> np.ndarray:
    words = np.random.Generator(np.random.PCG64(seed)).integers(0, 1 << 64, size=n, dtype=_U64, endpoint=False)
    words = words | _U64(1) if odd else words
    words.flags.writeable = False  # cached and shared
    return words


def span_hashes(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``sum(values[s + j] * P**j for j < e - s) mod 2**64`` for every span ``[s, e)``.

    Spans are sorted, do not end before the previous one ends, and are at most ``_BLOCK`` long.
    Each window of ``_BLOCK`` values is done with one prefix sum, so the cost is a handful of
    vector operations per document, whatever its number of tokens.
    """
    out = np.empty(len(starts), dtype=_U64)
    i = 0
    while i < len(starts):
        base = int(starts[i])
        j = int(np.searchsorted(ends, base + _BLOCK, side="right"))
        block = values[base:base + _BLOCK]
        prefix = np.zeros(len(block) + 1, dtype=_U64)
        np.cumsum(block * _POW[:len(block)], out=prefix[1:])
        s, e = starts[i:j] - base, ends[i:j] - base
        out[i:j] = (prefix[e] - prefix[s]) * _POW_INV[s]
        i = j
    return out


def _cut_long(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tokens longer than ``_BLOCK`` bytes (say a 1 MB base64 line) are hashed in pieces."""
    long = np.flatnonzero(ends - starts > _BLOCK)
    if not len(long):
        return starts, ends
    new_starts, new_ends, prev = [], [], 0
    for k in long:
        new_starts.append(starts[prev:k])
        new_ends.append(ends[prev:k])
        cuts = np.arange(starts[k], ends[k], _BLOCK)
        new_starts.append(cuts)
        new_ends.append(np.minimum(cuts + _BLOCK, ends[k]))
        prev = k + 1
    new_starts.append(starts[prev:])
    new_ends.append(ends[prev:])
    return np.concatenate(new_starts), np.concatenate(new_ends)


def tokens(text: str) -> list[str]:
    """The tokens ``token_hashes`` hashes, as strings (for tests and inspection)."""
    return TOKEN.findall(text.lower())


def token_hashes(text: str, seed: int = 0) -> np.ndarray:
    """One 64-bit hash per token of ``text`` (lower-cased), in order."""
    data = np.frombuffer(text.lower().encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if not len(data):
        return np.empty(0, dtype=_U64)
    word = np.zeros(len(data) + 2, dtype=bool)  # padded, so every token has a rising and a falling edge
    word[1:-1] = _WORD_BYTE[data]
    edges = np.flatnonzero(word[1:] != word[:-1])
    starts, ends = _cut_long(edges[0::2], edges[1::2])
    if not len(starts):
        return np.empty(0, dtype=_U64)
    return fmix64(span_hashes(data.astype(_U64), starts, ends) ^ _seed_words(seed, 1)[0])


def token_hash(token: str, seed: int = 0) -> int:
    """The hash ``token_hashes`` gives one (lower-case) token, in plain Python (for tests)."""
    h = 0
    for j, byte in enumerate(token.encode("utf-8", "surrogatepass")):
        h = (h + byte * pow(_P, j, 1 << 64)) % (1 << 64)
    return int(fmix64(np.array([h], dtype=_U64) ^ _seed_words(seed, 1)[0])[0])


def ngram_hashes(hashes: np.ndarray, n: int, seed: int = 0, short: bool = True) -> np.ndarray:
    """64-bit hashes of the ``n``-grams of a sequence of token hashes (duplicates included).

    ``short``: a sequence of 1..n-1 tokens gives one hash of all of them (so tiny documents
    still have a signature); otherwise it gives none.
    """
    mult = _seed_words(seed + 1, n, odd=True)
    count = len(hashes) - n + 1
    if count <= 0:
        if not len(hashes) or not short:
            return np.empty(0, dtype=_U64)
        return fmix64(np.array([np.sum(hashes * mult[:len(hashes)], dtype=_U64)], dtype=_U64))
    acc = hashes[:count] * mult[0]
    for k in range(1, n):
        acc += hashes[k:k + count] * mult[k]
    return fmix64(acc)


def window_hashes(text: str, width: int, seed: int = 0) -> np.ndarray:
    """64-bit hashes of every ``width``-character window of ``text`` (none if it is shorter)."""
    if not 0 < width <= _BLOCK:
        raise ValueError(f"window width must be between 1 and {_BLOCK}, got {width}")
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(_U64)
    count = len(codes) - width + 1
    if count <= 0:
        return np.empty(0, dtype=_U64)
    starts = np.arange(count, dtype=np.int64)
    return fmix64(span_hashes(codes + _U64(1), starts, starts + width) ^ _seed_words(seed, 1)[0])


# --- signatures --------------------------------------------------------------------------------

_ROWS_PER_CHUNK = 1024  # shingles x permutations, 1024 rows (1 MB) at a time
# A batch's chunks are permutations x 8,192 shingles (8 MB for 256 permutations): long rows keep
# NumPy's inner loops long; measured 2.5x faster than 1,024 on the shared sample's blobs.
_BATCH_COLUMNS = 8192


class MinHasher:
    """Signatures of texts: ``num_perm`` seeded permutations of ``ngram``-token shingles."""

    def __init__(self, num_perm: int = 256, ngram: int = 5, seed: int = 42):
        if num_perm < 1 or ngram < 1:
            raise ValueError("num_perm and ngram must be at least 1")
        self.num_perm, self.ngram, self.seed = int(num_perm), int(ngram), int(seed)
        words = _seed_words(seed + 2, 2 * self.num_perm)
        self._a = (words[:self.num_perm] | _U64(1)).astype(np.uint32)   # odd: a bijection mod 2**32
        self._b = words[self.num_perm:].astype(np.uint32)

    def shingles(self, text: str) -> np.ndarray:
        """64-bit hashes of the text's shingles, duplicates included (empty for no tokens)."""
        return ngram_hashes(token_hashes(text, self.seed), self.ngram, self.seed)

    def shingle_set(self, text: str) -> np.ndarray:
        return np.unique(self.shingles(text))

    def signature_of_shingles(self, shingles: np.ndarray) -> Optional[np.ndarray]:
        if not len(shingles):
            return None
        x = (shingles >> _U64(32)).astype(np.uint32)
        sig = None
        for start in range(0, len(x), _ROWS_PER_CHUNK):
            chunk = x[start:start + _ROWS_PER_CHUNK, None] * self._a
            chunk += self._b
            sig = chunk.min(axis=0) if sig is None else np.minimum(sig, chunk.min(axis=0))
        return sig

    def signature(self, text: str) -> Optional[np.ndarray]:
        """``num_perm`` uint32 values, or None for a text with no tokens."""
        return self.signature_of_shingles(self.shingles(text))


    def signatures(self, texts: Sequence[Optional[str]], short: bool = True) -> list[Optional[np.ndarray]]:
        """``signature`` of every text (``short=False``: ``near.signature``'s rule, no
        signature for fewer than ``ngram`` tokens), computed for the whole batch at once;
        None (like "") has no signature."""
        sigs, has = self.signature_matrix(texts, short)
        return [sigs[i] if has[i] else None for i in range(len(texts))]

    def signature_matrix(self, texts: Sequence[Optional[str]], short: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(len(texts), num_perm)`` uint32 signatures and a mask of the texts that have one."""
        hashes, offsets = batch_token_hashes(texts, self.seed)
        shingles, segments = batch_ngram_hashes(hashes, offsets, self.ngram, self.seed, short)
        return self.signatures_of_segments(shingles, segments)

    def signatures_of_segments(self, shingles: np.ndarray, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Text ``i``'s shingles are ``shingles[segments[i]:segments[i + 1]]``: the minimum of
        each permutation over each segment, ``_BATCH_COLUMNS`` shingles at a time. A chunk is
        laid out permutations x shingles, so one ``minimum.reduceat`` along its rows takes the
        pieces of every text in it (many, for short texts) at the speed of a plain ``min``."""
        n = len(segments) - 1
        sigs = np.full((n, self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)  # min(v, max) == v
        has = np.diff(segments) > 0
        if not has.any():
            return sigs, has
        x = (shingles >> _U64(32)).astype(np.uint32)
        owners = np.flatnonzero(has)
        starts = segments[owners]          # sorted and distinct: empty segments are left out
        a, b = self._a[:, None], self._b[:, None]
        buf = np.empty((self.num_perm, min(_BATCH_COLUMNS, len(x))), dtype=np.uint32)
        for r0 in range(0, len(x), _BATCH_COLUMNS):
            r1 = min(r0 + _BATCH_COLUMNS, len(x))
            chunk = buf[:, :r1 - r0]
            np.multiply(a, x[r0:r1], out=chunk)
            chunk += b
            lo = int(np.searchsorted(starts, r0, side="right")) - 1   # the segment holding shingle r0
            hi = int(np.searchsorted(starts, r1, side="left"))        # segments starting before r1
            local = starts[lo:hi] - r0
            local[0] = 0
            ids = owners[lo:hi]
            sigs[ids] = np.minimum(sigs[ids], np.minimum.reduceat(chunk, local, axis=1).T)
        return sigs, has


# --- batches: the per-text functions above for many texts at once ---------------------------------


def batch_token_hashes(texts: Sequence[Optional[str]], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``token_hashes`` of every text, concatenated, and ``offsets`` (``len(texts) + 1``): text
    ``i``'s are ``hashes[offsets[i]:offsets[i + 1]]``. The texts are hashed as one buffer with a
    space (not a token byte) between them, so no token spans two texts; the hash of a span does
    not depend on where it sits in the buffer (``span_hashes``), so every value is the one
    ``token_hashes`` gives."""
    encoded = [(t or "").lower().encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    if not encoded:
        return np.empty(0, dtype=_U64), offsets
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    byte_starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=byte_starts[1:])
    data = np.frombuffer(b" ".join(encoded), dtype=np.uint8)
    word = np.zeros(len(data) + 2, dtype=bool)
    word[1:-1] = _WORD_BYTE[data]
    edges = np.flatnonzero(word[1:] != word[:-1])
    starts, ends = _cut_long(edges[0::2], edges[1::2])
    offsets[:-1] = np.searchsorted(starts, byte_starts)
    offsets[-1] = len(starts)
    if not len(starts):
        return np.empty(0, dtype=_U64), offsets
    # uint8 values times uint64 powers are uint64: the same sums as token_hashes' astype copy.
    return fmix64(span_hashes(data, starts, ends) ^ _seed_words(seed, 1)[0]), offsets


def batch_ngram_hashes(hashes: np.ndarray, offsets: np.ndarray, n: int, seed: int = 0,
                       short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``ngram_hashes`` of each text's token hashes (``batch_token_hashes``' layout), as one
    array and its ``segments`` offsets. The n-grams are computed over the whole array and those
    that straddle two texts are left out."""
    mult = _seed_words(seed + 1, n, odd=True)
    counts = np.diff(offsets)
    full = np.maximum(counts - n + 1, 0)
    tiny = (counts > 0) & (counts < n) if short else np.zeros(len(counts), dtype=bool)
    segments = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(full + tiny, out=segments[1:])
    out = np.empty(int(segments[-1]), dtype=_U64)
    if full.any():
        total = len(hashes) - n + 1
        acc = hashes[:total] * mult[0]
        for k in range(1, n):
            acc += hashes[k:k + total] * mult[k]
        grams = fmix64(acc)
        owner = np.repeat(np.arange(len(counts)), full)
        within = np.arange(len(owner)) - np.repeat(np.cumsum(full) - full, full)
        out[segments[owner] + within] = grams[offsets[owner] + within]
    for i in np.flatnonzero(tiny):  # 1 .. n-1 tokens: one shingle of all of them
        lo, c = int(offsets[i]), int(counts[i])
        out[segments[i]] = fmix64(np.array([np.sum(hashes[lo:lo + c] * mult[:c], dtype=_U64)], dtype=_U64))[0]
    return out, segments


def signature_bytes(sig: Optional[np.ndarray]) -> Optional[bytes]:
    return None if sig is None else sig.astype("<u4").tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4")


def jaccard_estimate(a, b) -> float:
    """Share of equal signature values (signatures as arrays or as ``signature_bytes``)."""
    if isinstance(a, bytes):
        a, b = signature_from_bytes(a), signature_from_bytes(b)
    return float(np.count_nonzero(a == b)) / len(a)


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique arrays (``MinHasher.shingle_set``)."""
    if not len(a) and not len(b):
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


# --- LSH ---------------------------------------------------------------------------------------


def _integrate(f, lo: float, hi: float, intervals: int = 2000) -> float:
    """Composite Simpson's rule."""
    if hi <= lo:
        return 0.0
    x = np.linspace(lo, hi, intervals + 1)
    y = f(x)
    return float((hi - lo) / (3 * intervals) * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


@functools.lru_cache(maxsize=128)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimising
    ``fp_weight * FP + fn_weight * FN``, where FP is the area under the LSH collision-probability
    curve ``1 - (1 - s**rows)**bands`` below the threshold and FN the area above it that the
    curve misses (datasketch's and BigCode's criterion)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = _integrate(lambda s: 1 - (1 - s ** rows) ** bands, 0.0, threshold)
            fn = _integrate(lambda s: (1 - s ** rows) ** bands, threshold, 1.0)
            error = fp_weight * fp + fn_weight * fn
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def collision_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents of this Jaccard similarity share at least one band."""
    return 1 - (1 - similarity ** rows) ** bands


def band_keys(sig: bytes, bands: int, rows: int) -> list[bytes]:
    """One shuffle key per band: 2 bytes of band index + xxh64 of the band's values."""
    width = 4 * rows
    view = memoryview(sig)  # slices without copies
    return [band.to_bytes(2, "big") + xxhash.xxh64_digest(view[band * width:(band + 1) * width], seed=band)
            for band in range(bands)]
