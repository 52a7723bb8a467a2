"""The pure near-dedup functions: tokens, shingle hashes, signatures against exact Jaccard, LSH
parameters, exact-duplicate keys, the keep rule."""

from __future__ import annotations

import random

import numpy as np
import pytest

from codecorpus.dedup import minhash as mh
from codecorpus.dedup.deduplicate import KeepRule, record_id

WORDS = [f"w{i}" for i in range(5000)]


def words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(WORDS) for _ in range(n)]


def test_tokens_split_on_non_alphanumerics_and_lower_case():
    assert mh.tokens("def Foo_bar(x1, y):\n    return x1+y  # héllo, wörld!") == \
        ["def", "foo_bar", "x1", "y", "return", "x1", "y", "héllo", "wörld"]
    assert mh.tokens("") == [] and mh.tokens(" ... \n\t()") == []


def test_token_hashes_are_one_hash_per_token_in_order():
    text = "Foo bar_1 héllo\n\nfoo ++ 日本語 x"
    expected = [mh.token_hash(t) for t in mh.tokens(text)]
    assert mh.token_hashes(text).tolist() == expected
    assert expected[0] == expected[3]                 # "Foo" and "foo": the same token
    assert len(set(expected)) == len(expected) - 1
    assert mh.token_hashes("").tolist() == [] and mh.token_hashes(" - ").tolist() == []
    assert mh.token_hashes(text, seed=1).tolist() != expected


def test_long_texts_and_tokens_are_hashed_consistently():
    # Spans are hashed in 64 KiB windows: a text much longer than that, with a token longer
    # than a window, still gives each ordinary token the same hash wherever it is.
    long_token = "z" * 70_000
    text = " ".join(["alpha", long_token, "beta"] + ["gamma delta"] * 40_000 + ["alpha"])
    hashes = mh.token_hashes(text)
    assert len(hashes) == 3 + 80_000 + 1 + 1          # the long token is hashed as two pieces
    assert hashes[0] == hashes[-1] == mh.token_hash("alpha")
    assert hashes[3] == mh.token_hash("beta") and hashes[-2] == mh.token_hash("delta")
    assert len(set(hashes[5:-1:2].tolist())) == 1     # every "delta"


def test_ngram_hashes():
    th = mh.token_hashes("a b c d e f g")
    grams = mh.ngram_hashes(th, 5)
    assert len(grams) == 3
    assert mh.ngram_hashes(mh.token_hashes("a b c d e"), 5).tolist() == grams[:1].tolist()
    assert mh.ngram_hashes(mh.token_hashes("e d c b a"), 5).tolist() != grams[:1].tolist()  # order matters
    assert len(mh.ngram_hashes(mh.token_hashes("a b"), 5)) == 1             # a tiny text: one shingle
    assert len(mh.ngram_hashes(mh.token_hashes("a b"), 5, short=False)) == 0
    assert len(mh.ngram_hashes(mh.token_hashes(""), 5)) == 0


def test_hashed_shingle_sets_are_the_string_shingle_sets():
    hasher = mh.MinHasher()
    for seed in range(5):
        text = " ".join(words(800, seed)) + "\n" + " ".join(words(50, seed))  # repeats some shingles
        toks = mh.tokens(text)
        strings = {" ".join(toks[i:i + 5]) for i in range(len(toks) - 4)}
        assert len(hasher.shingle_set(text)) == len(strings)


def test_window_hashes():
    assert len(mh.window_hashes("abcdefgh", 5)) == 4
    assert len(mh.window_hashes("abc", 5)) == 0
    a, b = mh.window_hashes("xxabcdeyy", 5), mh.window_hashes("abcde", 5)
    assert b[0] in a.tolist()


def test_signatures_of_identical_empty_and_tiny_texts():
    hasher = mh.MinHasher()
    sig = hasher.signature("def f(x):\n    return x\n")
    assert sig.dtype == np.uint32 and len(sig) == 256
    assert (sig == mh.MinHasher().signature("def f(x):\n    return x\n")).all()   # deterministic
    assert (sig == hasher.signature("DEF f(x):  return x")).all()   # same tokens, same shingles
    assert hasher.signature("") is None and hasher.signature("  ;; \n") is None
    assert hasher.signature("x") is not None
    assert mh.jaccard_estimate(hasher.signature("a b"), hasher.signature("a c")) < 0.1
    assert (mh.MinHasher(seed=1).signature("a b c d e") != hasher.signature("a b c d e")).any()
    assert mh.jaccard_estimate(mh.signature_bytes(sig), mh.signature_bytes(sig)) == 1.0


def test_signature_estimates_match_exact_jaccard_statistically():
    hasher = mh.MinHasher()
    rng = random.Random(3)
    errors, truths = [], []
    for i in range(120):
        base = words(400, 100 + i)
        other = list(base)
        for _ in range(rng.choice([2, 5, 10, 20, 40])):
            other[rng.randrange(len(other))] = rng.choice(WORDS)
        a, b = " ".join(base), " ".join(other)
        truth = mh.exact_jaccard(hasher.shingle_set(a), hasher.shingle_set(b))
        estimate = mh.jaccard_estimate(hasher.signature(a), hasher.signature(b))
        sd = max(np.sqrt(truth * (1 - truth) / 256), 1e-3)
        assert abs(estimate - truth) < 5 * sd, (truth, estimate)
        errors.append(estimate - truth)
        truths.append(truth)
    truths = np.array(truths)
    assert 0.2 < truths.min() and truths.max() > 0.9                 # the pairs span the range
    assert abs(np.mean(errors)) < 0.006                               # unbiased
    rmse, expected = np.sqrt(np.mean(np.square(errors))), np.sqrt(np.mean(truths * (1 - truths) / 256))
    assert 0.6 * expected < rmse < 1.4 * expected                     # the MinHash variance, no worse


def test_optimal_bands_reproduce_bigcode_and_datasketch():
    # BigCode's setting (REFERENCE §4): 256 permutations at 0.7 -> 25 bands x 10 rows; the rest
    # are what datasketch's _optimal_param gives for the same inputs.
    assert mh.optimal_bands(0.7, 256) == (25, 10)
    assert mh.optimal_bands(0.85, 256) == (13, 19)
    assert mh.optimal_bands(0.7, 128) == (14, 9)
    assert mh.optimal_bands(0.5, 256) == (42, 6)
    bands, rows = mh.optimal_bands(0.7, 256, fp_weight=0.1, fn_weight=0.9)
    assert mh.collision_probability(0.7, bands, rows) > mh.collision_probability(0.7, 25, 10)  # recall-leaning
    # The S-curve of 25 x 10: a coin flip at the threshold, near-certain above, rare below.
    assert 0.45 < mh.collision_probability(0.7, 25, 10) < 0.55
    assert mh.collision_probability(0.85, 25, 10) > 0.99 and mh.collision_probability(0.5, 25, 10) < 0.03
    with pytest.raises(ValueError):
        mh.optimal_bands(1.0, 256)


def test_band_keys():
    sig = mh.signature_bytes(mh.MinHasher().signature("a b c d e f g h"))
    keys = mh.band_keys(sig, 25, 10)
    assert len(keys) == len(set(keys)) == 25 and all(len(k) == 10 for k in keys)
    same = np.zeros(256, dtype=np.uint32).tobytes()
    assert len(set(mh.band_keys(same, 25, 10))) == 25    # equal values in different bands never meet


def test_exact_keys_and_normalisation():
    steps = ["newlines", "strip_line_ends", "strip"]
    assert mh.content_hash("a = 1\r\nb = 2  \n", steps) == mh.content_hash("a = 1\nb = 2\n\n", steps)
    assert mh.content_hash("a = 1\n", steps) != mh.content_hash("a = 2\n", steps)
    assert mh.content_hash("A  B", steps) != mh.content_hash("a b", steps)
    assert mh.content_hash("A  B", ["collapse_whitespace", "lowercase"]) == mh.content_hash("a b", ["lowercase"])
    assert mh.content_hash("   ", steps) == mh.content_hash("", steps)
    assert len(mh.content_hash("x")) == 16
    with pytest.raises(ValueError, match="unknown normalisation"):
        mh.check_normalisers(["strip", "nope"])


def test_keep_rule_ranks():
    best = KeepRule("best", licence_field="license", date_field="meta.when")
    text = "x" * 10
    licensed = best.rank({"license": "mit"}, text)
    assert licensed < best.rank({"license": None}, text)
    assert best.rank({"license": "mit", "meta": {"when": "2024-01-02T00:00:00Z"}}, text) < \
        best.rank({"license": "mit", "meta": {"when": 1600000000}}, text) < licensed   # newest, then undated
    assert best.rank({"license": "mit"}, text + "y") < licensed                          # longest
    ordered = KeepRule("best", licence_order=["apache-2.0", "mit"])
    assert ordered.rank({"license": "Apache-2.0"}, text) < ordered.rank({"license": "mit"}, text) < \
        ordered.rank({"license": "gpl-3.0"}, text) < ordered.rank({}, text)
    assert KeepRule("smallest_id").rank({"license": "mit"}, text) == ()
    with pytest.raises(ValueError, match="unknown keep rule"):
        KeepRule("random")


def test_record_ids():
    assert record_id({"id": 7, "content": "x"}, "id") == "7"
    assert record_id({"b": 1, "a": "x"}, None) == record_id({"a": "x", "b": 1}, None)   # key order ignored
    assert record_id({"a": "x"}, None) != record_id({"a": "y"}, None)
    with pytest.raises(ValueError, match="id field 'id' is missing"):
        record_id({"content": "x"}, "id")
