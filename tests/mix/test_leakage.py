"""Cross-split near-duplicate leakage (codecorpus/mix/leakage.py): counters from a real
local pipeline, the bucket comparison rule and the configuration, without Beam where it can."""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from codecorpus.config import ConfigError, default_config
from codecorpus.jobs.runner import make_local_runner
from codecorpus.dedup import minhash as mh
from codecorpus.dedup.near import NearSettings, signature
from codecorpus.mix.leakage import COUNTERS, CrossSplitNearDuplicates, eval_train_pairs, examined_members, node

SECTION = default_config()["mix"]["leakage_check"]
SETTINGS = NearSettings.from_config(SECTION, "mix.leakage_check")
THRESHOLD = SETTINGS.threshold


def _code(seed: int, lines: int = 30) -> str:
    rng = random.Random(seed)
    return "".join(f"value_{rng.randrange(10**6)} = compute(alpha_{rng.randrange(999)}, beta)\n" for _ in range(lines))


def _light_edit(text: str) -> str:
    """One identifier of one line renamed: well above the threshold, so LSH all but surely
    collides (a pair near the threshold is found only with LSH's probability at its similarity)."""
    lines = text.splitlines(keepends=True)
    lines[12] = lines[12].replace("beta", "gamma")
    return "".join(lines)


def _exact_jaccard(a: str, b: str) -> float:
    hasher = mh.MinHasher(*SETTINGS.minhash)
    return mh.exact_jaccard(hasher.shingle_set(a), hasher.shingle_set(b))


def _counts(validation=0, test=0, pairs=0, checked=0, giant=0) -> list:
    return [("leakage/near/validation_rows_with_train_match", validation),
            ("leakage/near/test_rows_with_train_match", test),
            ("leakage/near/cross_split_pairs", pairs), ("leakage/near/rows_checked", checked),
            ("leakage/near/giant_buckets", giant)]


def _expect(rows: list, expected: list, cfg: dict | None = None) -> None:
    """Run the transform on ``rows`` in a local pipeline; its summed counters must be ``expected``."""
    with beam.Pipeline(runner=make_local_runner(PipelineOptions([]))) as p:
        stats = (p | beam.Create(rows) | CrossSplitNearDuplicates({**SECTION, **(cfg or {})})
                 | "Sum" >> beam.CombinePerKey(sum))
        assert_that(stats, equal_to(expected))


# --- in a pipeline -------------------------------------------------------------------------------------


def test_a_light_edit_of_a_train_row_in_validation_is_found():
    base = _code(1)
    edited = _light_edit(base)
    assert THRESHOLD <= _exact_jaccard(base, edited) < 1  # brute force on the shingle sets
    _expect([("train", "t1", base), ("train", "t2", _code(2)), ("validation", "v1", edited)],
            _counts(validation=1, pairs=1, checked=3))


def test_an_exact_copy_of_a_train_row_in_test_is_found():
    base = _code(5)
    assert _exact_jaccard(base, base) == 1
    _expect([("train", "t1", base), ("test", "x1", base), ("validation", "v1", _code(6))],
            _counts(test=1, pairs=1, checked=3))


def test_a_near_duplicate_pair_inside_train_is_not_leakage():
    base = _code(1)
    assert _exact_jaccard(base, _light_edit(base)) >= THRESHOLD
    _expect([("train", "t1", base), ("train", "t2", _light_edit(base)), ("train", "t3", base)],
            _counts(checked=3))


def test_a_pair_inside_validation_or_test_is_not_leakage():
    base = _code(1)
    _expect([("validation", "v1", base), ("validation", "v2", base), ("test", "x1", _light_edit(base)),
             ("train", "t1", _code(2))],
            _counts(checked=4))


def test_unrelated_rows_count_nothing():
    rows = [("train", f"t{i}", _code(i)) for i in range(10)]
    rows += [("validation", f"v{i}", _code(100 + i)) for i in range(5)]
    rows += [("test", f"x{i}", _code(200 + i)) for i in range(5)]
    assert max(_exact_jaccard(rows[0][2], r[2]) for r in rows[1:]) < 0.1
    _expect(rows, _counts(checked=20))


def test_upsampled_copies_count_once():
    base, other = _code(1), _code(2)
    rows = ([("train", "t1", base)] * 7 + [("train", "t2", other)] * 3
            + [("validation", "v1", _light_edit(base))] * 2 + [("test", "x1", base)])
    _expect(rows, _counts(validation=1, test=1, pairs=2, checked=4))


def test_one_eval_row_matching_several_train_rows_is_one_row_and_several_pairs():
    base = _code(1)
    rows = [("train", "t1", base), ("train", "t2", _light_edit(base)), ("train", "t3", base),
            ("validation", "v1", base)]
    _expect(rows, _counts(validation=1, pairs=3, checked=4))


def test_the_same_row_id_in_two_splits_is_two_rows():
    base = _code(1)
    _expect([("train", "r1", base), ("validation", "r1", base)], _counts(validation=1, pairs=1, checked=2))


def test_every_counter_is_present_without_any_eval_split():
    _expect([("train", "a", _code(1)), ("train", "b", _code(1)), ("train", "c", _code(2))], _counts(checked=3))


def test_every_counter_is_present_without_any_row():
    with beam.Pipeline(runner=make_local_runner(PipelineOptions([]))) as p:
        stats = (p | beam.Create([("train", "a", "")]) | beam.Filter(lambda r: r[2])
                 | CrossSplitNearDuplicates(SECTION) | beam.CombinePerKey(sum))
        assert_that(stats, equal_to(_counts()))


def test_texts_shorter_than_the_ngram_are_skipped_and_not_checked():
    short = "x = 1"  # two tokens, fewer than the 5 of a shingle
    _expect([("train", "t1", short), ("validation", "v1", short), ("test", "x1", ""),
             ("train", "t2", _code(1)), ("test", "x2", _code(1))],
            _counts(test=1, pairs=1, checked=2))


def test_giant_buckets_are_cut_and_counted_and_the_eval_row_still_found():
    base = _code(1)
    rows = [("train", f"t{i}", base) for i in range(6)] + [("validation", "v1", base)]
    cfg = {"num_perm": 64, "bands": 8, "rows": 8, "bucket_cap": 4}
    # identical rows share all 8 buckets, each of 7 > 4 members: 1 eval x 3 train examined in each
    _expect(rows, _counts(validation=1, pairs=3, checked=7, giant=8), cfg)


# --- pure parts ----------------------------------------------------------------------------------


def test_bucket_pairs_only_cross_the_train_boundary():
    members = [node("train", "a"), node("train", "b"), node("validation", "c"), node("test", "d")]
    pairs, cut = eval_train_pairs(iter(members), cap=10)
    assert sorted(pairs) == sorted((e, t) for e in (node("validation", "c"), node("test", "d"))
                                   for t in (node("train", "a"), node("train", "b")))
    assert not cut


def test_a_bucket_with_one_side_only_gives_no_pairs_and_is_never_cut():
    train_only = [node("train", str(i)) for i in range(50)]
    assert eval_train_pairs(train_only, cap=2) == ([], False)
    assert eval_train_pairs([node("test", str(i)) for i in range(50)], cap=2) == ([], False)


def test_a_large_bucket_examines_at_most_cap_members_and_favours_the_few_eval_rows():
    train = [node("train", f"t{i}") for i in range(500)]
    evals = [node("validation", f"v{i}") for i in range(3)]
    chosen_evals, chosen_train, cut = examined_members(train + evals, cap=100)
    assert cut and sorted(chosen_evals) == sorted(evals) and len(chosen_train) == 97
    assert set(chosen_train) <= set(train)
    # many on both sides: half each, never more than cap, and the same choice in any order
    many = train + [node("test", f"x{i}") for i in range(400)]
    e, t, cut = examined_members(many, cap=100)
    assert cut and len(e) == len(t) == 50
    assert examined_members(list(reversed(many)), cap=100) == (e, t, True)


def test_row_signature_is_the_dedup_signature_and_none_for_short_texts():
    hasher = mh.MinHasher(*SETTINGS.minhash)
    text = _code(3)
    assert signature(hasher, text, short=False) == mh.signature_bytes(hasher.signature(text))
    assert signature(hasher, "one two three four", short=False) is None  # dedup would sign it as one shingle
    assert signature(hasher, "one two three four", short=True) is not None
    assert signature(hasher, "one two three four five", short=False) is not None
    assert signature(hasher, "", short=False) is None and signature(hasher, None, short=False) is None


def test_the_mix_section_signs_like_dedup_near_dedup():
    near = NearSettings.from_config(default_config()["dedup"]["near_dedup"], "dedup.near_dedup")
    assert SETTINGS == near


def test_settings_fill_in_bands_and_take_the_section_as_it_is():
    assert (SETTINGS.bands, SETTINGS.rows) == mh.optimal_bands(0.7, 256) == (25, 10)
    assert CrossSplitNearDuplicates(SECTION).settings == SETTINGS
    assert NearSettings.from_config({**SECTION, "bands": 16, "rows": 4, "num_perm": 64}, "s").bands == 16
    assert sorted(COUNTERS) == sorted(name for name, _ in _counts())


@pytest.mark.parametrize("bad", [
    {"threshold": 1.0}, {"threshold": 0}, {"threshold": "0.7"}, {"num_perm": 0}, {"ngram": 1.5},
    {"bucket_cap": 1}, {"bands": 10}, {"rows": 10}, {"bands": 30, "rows": 10}, {"bands": 0, "rows": 1},
    {"seed": -1}, {"num_perm": True}, {"thershold": 0.7},
])
def test_settings_reject_what_cannot_run(bad):
    with pytest.raises(ConfigError):
        CrossSplitNearDuplicates({**SECTION, **bad})


def test_settings_name_a_missing_key():
    with pytest.raises(ConfigError, match=r"mix.leakage_check: missing key\(s\) \['threshold'\]"):
        CrossSplitNearDuplicates({k: v for k, v in SECTION.items() if k != "threshold"})
