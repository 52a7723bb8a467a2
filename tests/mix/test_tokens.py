"""codecorpus.mix.tokens on its own: loading a local tokenizer.json, counting tokens,
packing documents into fixed-length sequences (checked against the invariants a trainer relies
on), and the TokenizeRows DoFn in a small pipeline. The tokenizer is the ``tiny_tokenizer``
fixture (trained in conftest.py), so nothing is downloaded."""

from __future__ import annotations

import random

import apache_beam as beam
import fsspec
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.windowed_value import WindowedValue

from codecorpus.jobs.runner import make_local_runner
from codecorpus.mix.tokens import (Packer, TokenizeRows, encode_texts, ids_from_bytes, ids_to_bytes, load_tokenizer, pack_documents, token_id)

TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "The quick brown fox jumps over the lazy dog.",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)\n",
    "naïve café — ünïcode bytes outside the training text ✓",   # byte-level BPE: never unknown
    "  leading and trailing spaces\t\n",
]


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer):
    return load_tokenizer(tiny_tokenizer)


def pipeline() -> beam.Pipeline:
    return beam.Pipeline(runner=make_local_runner(PipelineOptions([])))


# --- loading and encoding ----------------------------------------------------------------------------


def test_encoding_round_trips_and_counts_match_the_tokenizer(tokenizer):
    ids = encode_texts(tokenizer, TEXTS)
    assert [tokenizer.decode(i) for i in ids] == TEXTS
    assert [len(i) for i in ids] == [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert all(ids)


def test_none_and_empty_texts_give_no_tokens_and_keep_their_place(tokenizer):
    ids = encode_texts(tokenizer, [None, TEXTS[0], "", TEXTS[1], None])
    assert ids[0] == ids[2] == ids[4] == []
    assert ids[1] == encode_texts(tokenizer, [TEXTS[0]])[0] and ids[3] == encode_texts(tokenizer, [TEXTS[1]])[0]
    assert encode_texts(tokenizer, []) == [] and encode_texts(tokenizer, [None, ""]) == [[], []]


def test_special_tokens_resolve_to_distinct_ids(tokenizer):
    eos, pad = token_id(tokenizer, "<|endoftext|>"), token_id(tokenizer, "<|pad|>")
    assert eos != pad and tokenizer.id_to_token(eos) == "<|endoftext|>" and tokenizer.id_to_token(pad) == "<|pad|>"
    with pytest.raises(ValueError, match="no token '<\\|im_end\\|>'"):
        token_id(tokenizer, "<|im_end|>")


def test_the_tokenizer_loads_from_any_fsspec_path(tiny_tokenizer):
    data = fsspec.open(tiny_tokenizer, "rb").open().read()
    with fsspec.open("memory://tokens-test/tokenizer.json", "wb") as f:
        f.write(data)
    from_memory = load_tokenizer("memory://tokens-test/tokenizer.json")
    from_url = load_tokenizer("file://" + tiny_tokenizer)
    assert from_memory.encode(TEXTS[2]).ids == from_url.encode(TEXTS[2]).ids == load_tokenizer(
        tiny_tokenizer).encode(TEXTS[2]).ids


def test_a_missing_file_or_one_that_is_not_a_tokenizer_is_a_clear_error(tmp_path):
    missing = tmp_path / "missing" / "tokenizer.json"
    with pytest.raises(FileNotFoundError, match="tokenizer not found: .*missing"):
        load_tokenizer(str(missing))
    for name, content in [("empty.json", "{}"), ("config.json", '{"model_type": "llama", "vocab_size": 32000}'),
                          ("notes.txt", "not json at all")]:
        (tmp_path / name).write_text(content)
        with pytest.raises(ValueError, match=f"{name} is not a tokenizer.json"):
            load_tokenizer(str(tmp_path / name))


def test_a_binary_file_is_named_in_the_error(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\xff\xfe\x00\x01 weights")
    with pytest.raises(ValueError, match="model.bin is not a tokenizer.json"):
        load_tokenizer(str(tmp_path / "model.bin"))


# --- packing --------------------------------------------------------------------------------------------


def assert_packed(docs, sequences, seq_len, eos_id, pad_id, remainder="pad"):
    """Every invariant of ``pack_documents``' output for ``docs`` (a list of (doc_id, ids)).

    The pieces named by ``doc_ids``/``doc_starts`` must rebuild each document (+ EOS) exactly, in
    the order given; only the last sequence may be partial, and only when padding."""
    expected = [(doc_id, list(ids) + ([eos_id] if eos_id is not None else [])) for doc_id, ids in docs]
    pieces = []   # (doc_id, tokens, continues_previous_sequence)
    for n, sequence in enumerate(sequences):
        ids, used = sequence["input_ids"], sequence["num_tokens"]
        assert len(ids) == seq_len and 0 < used <= seq_len
        assert ids[used:] == [pad_id] * (seq_len - used)
        assert used == seq_len or (n == len(sequences) - 1 and remainder == "pad")
        starts = sequence["doc_starts"]
        assert len(starts) == len(sequence["doc_ids"]) and starts[0] == 0
        assert starts == sorted(set(starts)) and starts[-1] < used
        for i, (doc_id, start) in enumerate(zip(sequence["doc_ids"], starts)):
            end = starts[i + 1] if i + 1 < len(starts) else used
            pieces.append((doc_id, ids[start:end], i == 0 and sequence["continues"]))
    # consecutive pieces of one document are one document split across sequences
    rebuilt = []
    for doc_id, tokens, continues in pieces:
        if continues:
            assert rebuilt and rebuilt[-1][0] == doc_id, f"{doc_id} says it continues but does not"
            rebuilt[-1][1].extend(tokens)
        else:
            rebuilt.append((doc_id, list(tokens)))
    kept = [(doc_id, tokens) for doc_id, tokens in expected if tokens]
    if remainder == "drop" and rebuilt:
        # the dropped tail can cut the last document that has a piece
        last = len(rebuilt) - 1
        assert rebuilt[:last] == kept[:last] and kept[last][1][:len(rebuilt[last][1])] == rebuilt[last][1]
    else:
        assert rebuilt == kept
    stream = [t for s in sequences for t in s["input_ids"][:s["num_tokens"]]]
    assert stream == [t for _, tokens in kept for t in tokens][:len(stream)]
    return stream


def random_docs(rng: random.Random, count: int, max_len: int) -> list[tuple[str, list[int]]]:
    return [(f"d{i}", [rng.randrange(2, 1000) for _ in range(rng.choice([0, 1, rng.randrange(max_len + 1)]))])
            for i in range(count)]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("seq_len", [2, 3, 8, 64])
@pytest.mark.parametrize("eos_id", [1, None])
def test_packing_invariants_hold_for_random_documents(seed, seq_len, eos_id):
    rng = random.Random(seed * 1000 + seq_len)
    docs = random_docs(rng, rng.randrange(0, 40), max_len=3 * seq_len)
    for remainder in ("pad", "drop"):
        packer = Packer(seq_len, eos_id, pad_id=0, remainder=remainder)
        sequences = [s for doc_id, ids in docs for s in packer.add(doc_id, ids)] + packer.finish()
        stream = assert_packed(docs, sequences, seq_len, eos_id, 0, remainder)
        total = sum(len(ids) + (eos_id is not None) for _, ids in docs)
        assert len(stream) + packer.dropped_tokens == total
        assert packer.dropped_tokens == (0 if remainder == "pad" else total % seq_len)
        assert packer.documents == len(docs)
        assert sequences == list(pack_documents(docs, seq_len, eos_id, 0, remainder))   # deterministic, same API


def test_a_long_document_runs_across_sequences_and_says_so():
    docs = [("short", [10, 11]), ("long", list(range(100, 125))), ("after", [7])]
    sequences = list(pack_documents(docs, seq_len=8, eos_id=1, pad_id=0))
    assert_packed(docs, sequences, 8, 1, 0)
    # 3 + 26 + 2 = 31 tokens: "long" fills the rest of the first sequence, two whole ones and part of a fourth
    assert [(s["doc_ids"], s["doc_starts"], s["continues"], s["num_tokens"]) for s in sequences] == [
        (["short", "long"], [0, 3], False, 8),
        (["long"], [0], True, 8),
        (["long"], [0], True, 8),
        (["long", "after"], [0, 5], True, 7),
    ]
    assert sequences[-1]["input_ids"] == [121, 122, 123, 124, 1, 7, 1, 0]


def test_a_document_ending_exactly_at_a_boundary_is_not_continued():
    docs = [("a", [5, 6, 7]), ("b", [8, 9])]        # a + EOS fills seq_len 4 exactly
    sequences = list(pack_documents(docs, seq_len=4, eos_id=1, pad_id=0))
    assert [(s["input_ids"], s["doc_ids"], s["continues"]) for s in sequences] == [
        ([5, 6, 7, 1], ["a"], False), ([8, 9, 1, 0], ["b"], False)]
    # the same with nothing after: no empty trailing sequence
    assert list(pack_documents(docs[:1], seq_len=4, eos_id=1, pad_id=0)) == sequences[:1]


def test_remainder_pad_keeps_the_last_partial_sequence_and_drop_counts_it():
    docs = [("a", [2, 3, 4]), ("b", [5, 6, 7, 8, 9])]   # 3 + 1 + 5 + 1 = 10 tokens into sequences of 4
    padded, dropping = Packer(4, 1, 0, "pad"), Packer(4, 1, 0, "drop")
    pad_out = [s for d in docs for s in padded.add(*d)] + padded.finish()
    drop_out = [s for d in docs for s in dropping.add(*d)] + dropping.finish()
    assert pad_out[:-1] == drop_out and len(drop_out) == 2
    assert pad_out[-1] == {"input_ids": [9, 1, 0, 0], "doc_ids": ["b"], "doc_starts": [0], "num_tokens": 2,
                           "continues": True}
    assert (padded.dropped_tokens, dropping.dropped_tokens) == (0, 2)
    assert padded.documents == dropping.documents == 2


def test_empty_documents_are_counted_but_take_no_place_without_an_eos():
    docs = [("empty", []), ("a", [2, 3]), ("also-empty", [])]
    packer = Packer(2, eos_id=None, pad_id=0)
    out = [s for d in docs for s in packer.add(*d)] + packer.finish()
    assert [(s["input_ids"], s["doc_ids"]) for s in out] == [([2, 3], ["a"])] and packer.documents == 3
    # with an EOS an empty document is one token, so a trainer still sees the boundary
    out = list(pack_documents(docs, seq_len=8, eos_id=1, pad_id=0))
    assert out[0]["input_ids"] == [1, 2, 3, 1, 1, 0, 0, 0] and out[0]["doc_ids"] == ["empty", "a", "also-empty"]
    assert out[0]["doc_starts"] == [0, 1, 4] and out[0]["num_tokens"] == 5
    assert list(pack_documents([], seq_len=8, eos_id=1, pad_id=0)) == []


def test_packer_arguments_are_checked():
    for seq_len in (1, 0, -4):
        with pytest.raises(ValueError, match="seq_len"):
            Packer(seq_len, eos_id=1, pad_id=0)
    with pytest.raises(ValueError, match="remainder"):
        Packer(8, eos_id=1, pad_id=0, remainder="truncate")
    with pytest.raises(ValueError, match="seq_len"):
        next(pack_documents([("a", [1])], seq_len=1, eos_id=None, pad_id=0))


def test_packing_real_token_ids_decodes_back_to_the_documents(tokenizer):
    eos, pad = token_id(tokenizer, "<|endoftext|>"), token_id(tokenizer, "<|pad|>")
    docs = list(zip([f"t{i}" for i in range(len(TEXTS))], encode_texts(tokenizer, TEXTS)))
    sequences = list(pack_documents(docs, seq_len=16, eos_id=eos, pad_id=pad))
    stream = assert_packed(docs, sequences, 16, eos, pad)
    assert tokenizer.decode(stream, skip_special_tokens=False) == "".join(t + "<|endoftext|>" for t in TEXTS)
    assert tokenizer.decode(sequences[-1]["input_ids"], skip_special_tokens=False).endswith("<|pad|>")


def test_ids_survive_the_int32_byte_encoding():
    for ids in ([], [0], [1, 2, 3], [2**31 - 1, 0, 65_535, 151_643]):
        assert ids_from_bytes(ids_to_bytes(ids)) == ids
    assert len(ids_to_bytes(list(range(10)))) == 40


# --- the DoFn ---------------------------------------------------------------------------------------------


def test_tokenize_rows_counts_every_row_in_a_pipeline(tiny_tokenizer, tokenizer):
    rows = [{"id": i, "body": TEXTS[i % len(TEXTS)] * (i % 3)} for i in range(11)] + [{"id": 99, "body": None}]
    expected = [{**r, "tokens": len(tokenizer.encode(r["body"] or "", add_special_tokens=False).ids)} for r in rows]
    assert expected[-1]["tokens"] == 0 and expected[0]["tokens"] == 0 and expected[1]["tokens"] > 0
    with pipeline() as p:
        out = p | beam.Create(rows) | beam.ParDo(TokenizeRows(tiny_tokenizer, text_field="body",
                                                              count_field="tokens", batch_size=4))
        assert_that(out, equal_to(expected))


def test_tokenize_rows_keeps_the_ids_when_asked(tiny_tokenizer, tokenizer):
    rows = [{"id": i, "text": TEXTS[i % len(TEXTS)]} for i in range(7)] + [{"id": 7, "text": None}]
    expected = [(r["id"], tokenizer.encode(r["text"] or "", add_special_tokens=False).ids) for r in rows]
    with pipeline() as p:
        out = (p | beam.Create(rows) | beam.ParDo(TokenizeRows(tiny_tokenizer, ids_field="_ids", batch_size=3))
               | beam.Map(lambda r: (r["id"], ids_from_bytes(r["_ids"]), r["num_tokens"])))
        assert_that(out, equal_to([(i, ids, len(ids)) for i, ids in expected]))


def test_tokenize_rows_batches_within_a_bundle_and_copies_rows(tiny_tokenizer):
    fn = TokenizeRows(tiny_tokenizer, batch_size=3)
    fn.setup()
    fn.start_bundle()
    rows = [{"id": i, "text": TEXTS[i % len(TEXTS)]} for i in range(7)]
    originals = [dict(r) for r in rows]
    per_row = [list(fn.process(r)) for r in rows]
    assert [len(out) for out in per_row] == [0, 0, 3, 0, 0, 3, 0]   # a batch is encoded when it is full
    tail = list(fn.finish_bundle())
    assert len(tail) == 1 and isinstance(tail[0], WindowedValue) and tail[0].value["id"] == 6
    out = [r for batch in per_row for r in batch] + [tail[0].value]
    assert [r["id"] for r in out] == list(range(7)) and all(r["num_tokens"] > 0 for r in out)
    assert rows == originals and all("num_tokens" not in r for r in rows)
    fn.start_bundle()
    assert list(fn.finish_bundle()) == []   # an empty bundle yields nothing


def test_tokenize_rows_counts_the_prepared_text_and_keeps_ids_of_chosen_sources(tiny_tokenizer, tokenizer):
    fn = TokenizeRows(tiny_tokenizer, ids_field="_ids", ids_sources=frozenset({"code"}),
                      prepare=lambda row: {**row, "text": row["text"] + "\n"}, batch_size=8)
    fn.setup()
    fn.start_bundle()
    rows = [{"source": "code", "text": TEXTS[0]}, {"source": "chat", "text": TEXTS[1]}]
    assert list(fn.process(rows[0])) == list(fn.process(rows[1])) == []
    code, chat = [w.value for w in fn.finish_bundle()]
    assert code["num_tokens"] == len(tokenizer.encode(TEXTS[0] + "\n", add_special_tokens=False).ids)
    assert ids_from_bytes(code["_ids"]) == tokenizer.encode(TEXTS[0] + "\n", add_special_tokens=False).ids
    assert "_ids" not in chat and code["text"] == TEXTS[0]   # the prepared text is counted, not yielded


def test_tokenize_rows_pickles_without_a_tokenizer(tiny_tokenizer):
    fn = TokenizeRows(tiny_tokenizer, ids_field="_ids")
    payload = pickler.dumps(fn)
    assert len(payload) < 10_000
    restored = pickler.loads(payload)
    assert not hasattr(restored, "_tokenizer")
    assert not any(type(v).__module__.startswith("tokenizers") for v in vars(restored).values())
    restored.setup()   # the worker side loads it
    assert type(restored._tokenizer).__module__.startswith("tokenizers")


def test_tokenize_rows_fails_at_setup_for_a_missing_tokenizer(tmp_path):
    fn = TokenizeRows(str(tmp_path / "nope" / "tokenizer.json"))   # building the DoFn reads nothing
    with pytest.raises(FileNotFoundError, match="tokenizer not found"):
        fn.setup()


def test_a_folder_is_named_in_the_error(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        load_tokenizer(str(tmp_path))
