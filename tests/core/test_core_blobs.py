"""Blob text through shuffles (issue 19, item 2): ``pack``/``unpack`` give back every string
exactly, long text fields become compressed bytes, short ones and other fields stay as they are."""

from __future__ import annotations

import random
import threading

import pytest

from codecorpus.core import blobs


def random_text(rng: random.Random, n: int) -> str:
    alphabet = ["a", "é", "\n", " ", "def f(x):\n    return x\n", "\u4e2d", "\U0001f600", "\x00", "\ud800",
                "\udfff", "\udc80", "\r\n", "\t"]
    return "".join(rng.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("seed", range(20))
def test_every_string_round_trips_exactly(seed):
    rng = random.Random(seed)
    text = random_text(rng, rng.choice([0, 1, 63, 64, 65, 500, 20_000]))
    record = {"id": "x", "content": text, "size": 3, "binary": False}
    packed = blobs.pack(record, ("content",))
    assert blobs.unpack(packed, ("content",)) == record
    assert blobs.unpack_text(blobs.pack_text(text)) == text


def test_lone_and_paired_surrogates_stay_two_code_points():
    # "\ud83d\ude00" as two lone surrogates is not the emoji U+1F600: it must come back as two.
    text = "\ud83d\ude00" * 40 + "\U0001f600" * 40
    back = blobs.unpack_text(blobs.pack_text(text))
    assert back == text and len(back) == 120


def test_long_text_becomes_smaller_bytes_short_text_and_other_fields_stay():
    code = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(200))
    record = {"id": "a" * 40, "content": code, "path": "src/" + "p" * 80, "note": "short", "n": 7, "none": None}
    packed = blobs.pack(record, ("content", "note", "none", "absent"))
    assert isinstance(packed["content"], bytes) and len(packed["content"]) < len(code) / 4
    assert packed["note"] == "short" and packed["none"] is None and "absent" not in packed
    assert packed["path"] == record["path"]            # not listed: untouched even though long
    assert list(packed) == list(record)                # same keys, same order
    assert record["content"] == code                   # the input is not modified
    assert blobs.unpack(packed, ("content", "note", "none", "absent")) == record


def test_nothing_to_pack_or_unpack_returns_the_record_itself():
    record = {"content": "tiny", "other": "x" * 100}
    assert blobs.pack(record, ("content",)) is record
    assert blobs.unpack(record, ("content",)) is record


def test_threads_do_not_share_a_compressor():
    texts = [random_text(random.Random(i), 5_000) for i in range(8)]
    failures = []

    def work(text):
        for _ in range(50):
            if blobs.unpack_text(blobs.pack_text(text)) != text:
                failures.append(text)

    threads = [threading.Thread(target=work, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
