"""Batched MinHash (issue 19, item 1): ``MinHasher.signatures`` / ``near.signatures`` give,
bit for bit, the per-record ``signature`` of every text of a batch, whatever the batch holds:
empty and None texts, texts of fewer than ``ngram`` tokens, non-ASCII and lone surrogates,
tokens longer than the hashing window, texts longer than a chunk of shingles."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xxhash

from codecorpus.dedup import minhash as mh
from codecorpus.dedup import near

ALPHABET = "abcXYZ019_ ,.;:()[]{}\n\t-+=*/é漢字ß\u2028"


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return ""
    if kind < 0.10:
        return " ".join(rng.choice(["a", "Bb", "ç"]) for _ in range(rng.randint(1, 6)))  # around ngram tokens
    if kind < 0.15:
        return "x" * rng.randint(mh._BLOCK - 3, mh._BLOCK * 2 + 5) + " tail words here ok"  # a token cut in pieces
    if kind < 0.20:
        return "\udcff lone " + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 50)))
    n = rng.choice([10, 100, 1000, 20000])
    words = [rng.choice(["def", "return", "x", "self", "foo_bar", "1", "Ünïcode", "値"]) for _ in range(n // 5)]
    return "".join(w + rng.choice(ALPHABET) for w in words)


def texts(seed: int, n: int) -> list:
    rng = random.Random(seed)
    return [random_text(rng) for _ in range(n)]


@pytest.mark.parametrize("num_perm,ngram,seed", [(256, 5, 42), (128, 3, 7), (16, 1, 0)])
@pytest.mark.parametrize("short", [True, False])
def test_batched_signatures_equal_per_record_bit_for_bit(num_perm, ngram, seed, short):
    hasher = mh.MinHasher(num_perm, ngram, seed)
    batch = texts(seed * 31 + ngram, 300)
    expected = [near.signature(hasher, t, short) for t in batch]
    assert near.signatures(hasher, batch, short) == expected
    # the same texts in other batchings (one at a time, pairs, reversed) give the same values
    assert [s for t in batch for s in near.signatures(hasher, [t], short)] == expected
    assert [s for i in range(0, len(batch), 2) for s in near.signatures(hasher, batch[i:i + 2], short)] == expected
    assert near.signatures(hasher, batch[::-1], short) == expected[::-1]
    assert sum(s is None for s in expected) >= 5  # the batch really mixes texts with and without one


def test_chunks_of_shingles_split_inside_texts_and_between_them(monkeypatch):
    hasher = mh.MinHasher()
    batch = texts(5, 120)
    expected = [hasher.signature(t) for t in batch]
    for columns in (1, 7, 64, mh._BATCH_COLUMNS):
        monkeypatch.setattr(mh, "_BATCH_COLUMNS", columns)
        got = hasher.signatures(batch)
        assert all((g is None and e is None) or (g is not None and e is not None and np.array_equal(g, e))
                   for g, e in zip(got, expected))


def test_batch_token_and_ngram_hashes_match_the_per_text_ones():
    batch = texts(9, 200) + [None]
    hashes, offsets = mh.batch_token_hashes(batch, 42)
    for i, text in enumerate(batch):
        assert np.array_equal(hashes[offsets[i]:offsets[i + 1]], mh.token_hashes(text or "", 42))
    shingles, segments = mh.batch_ngram_hashes(hashes, offsets, 5, 42)
    for i, text in enumerate(batch):
        per_text = mh.ngram_hashes(mh.token_hashes(text or "", 42), 5, 42)
        assert np.array_equal(shingles[segments[i]:segments[i + 1]], per_text)
    assert mh.batch_token_hashes([], 42)[0].size == 0
    assert near.signatures(mh.MinHasher(), []) == []


def test_band_keys_are_the_documented_keys():
    sig = mh.signature_bytes(mh.MinHasher().signature("a b c d e f g h"))
    width = 4 * 10
    expected = [band.to_bytes(2, "big") + xxhash.xxh64_digest(sig[band * width:(band + 1) * width], seed=band)
                for band in range(25)]
    assert mh.band_keys(sig, 25, 10) == expected
