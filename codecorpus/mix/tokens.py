"""Token counts and sequence packing with a local Hugging Face ``tokenizer.json``.

Nothing is fetched from a hub: the tokenizer is a file the user names (any fsspec path), read
with ``tokenizers``. ``Packer`` concatenates documents (each followed by an EOS token) into
sequences of exactly ``seq_len`` tokens, splitting a document that does not fit across
sequences, and records where each document piece starts so a trainer can build attention masks
or position ids per document.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Optional

import apache_beam as beam
import fsspec
import numpy as np


def load_tokenizer(path: str):
    """A ``tokenizers.Tokenizer`` from a local (or fsspec) ``tokenizer.json``."""
    from tokenizers import Tokenizer

    try:
        with fsspec.open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"tokenizer not found: {path} (give a tokenizer.json file)") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder: give the tokenizer.json file in it") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a tokenizer.json (not UTF-8 text)") from None
    try:
        return Tokenizer.from_str(text)
    except Exception as e:  # noqa: BLE001 - tokenizers raises plain Exceptions
        raise ValueError(f"{path} is not a tokenizer.json the `tokenizers` library can load: {e}") from None


def token_id(tokenizer, token: str) -> int:
    found = tokenizer.token_to_id(token)
    if found is None:
        raise ValueError(f"the tokenizer has no token {token!r} (set mix.packing.eos_token / pad_token to one of "
                         "its special tokens)")
    return found


def encode_texts(tokenizer, texts: list[Optional[str]]) -> list[list[int]]:
    """Token ids of each text, without special tokens added; None or "" -> []."""
    present = [i for i, t in enumerate(texts) if t]
    encoded = tokenizer.encode_batch([texts[i] for i in present], add_special_tokens=False) if present else []
    ids: list[list[int]] = [[] for _ in texts]
    for i, encoding in zip(present, encoded):
        ids[i] = encoding.ids
    return ids


class Packer:
    """Greedy packing of documents into ``seq_len``-token sequences.

    ``add(doc_id, ids)`` returns the sequences completed by that document; ``finish()`` the last,
    partial one (padded with ``pad_id``, or dropped and counted in ``dropped_tokens``). Each
    sequence: ``input_ids`` (seq_len ids), ``doc_ids`` and ``doc_starts`` (the documents with a
    piece in it and where each piece starts), ``num_tokens`` (not padding), ``continues`` (its
    first piece continues a document from the sequence before)."""

    def __init__(self, seq_len: int, eos_id: Optional[int], pad_id: int, remainder: str = "pad"):
        if seq_len < 2:
            raise ValueError(f"seq_len must be at least 2, got {seq_len}")
        if remainder not in ("pad", "drop"):
            raise ValueError(f"remainder must be 'pad' or 'drop', got {remainder!r}")
        self.seq_len, self.eos_id, self.pad_id, self.remainder = seq_len, eos_id, pad_id, remainder
        self.documents = 0
        self.dropped_tokens = 0
        self.kept_whole = 0     # documents that started a new sequence so as not to be broken
        self._ids: list[int] = []
        self._docs: list[str] = []
        self._starts: list[int] = []
        self._continues = False

    def add(self, doc_id: str, ids: list[int], whole: bool = False) -> list[dict]:
        """``whole``: a document that fits in one sequence but not in what is left of this one
        closes it (padded) and starts the next, instead of being broken across two (repository
        documents, whose order of files is the point)."""
        self.documents += 1
        tokens = list(ids) + ([self.eos_id] if self.eos_id is not None else [])
        done = []
        if whole and self._ids and len(self._ids) + len(tokens) > self.seq_len >= len(tokens):
            done.append(self._emit())
            self.kept_whole += 1
        position = 0
        while position < len(tokens):
            room = self.seq_len - len(self._ids)
            piece = tokens[position:position + room]
            self._docs.append(doc_id)
            self._starts.append(len(self._ids))
            self._ids += piece
            position += len(piece)
            if len(self._ids) == self.seq_len:
                done.append(self._emit())
                self._continues = position < len(tokens)
        return done

    def finish(self) -> list[dict]:
        if not self._ids:
            return []
        if self.remainder == "drop":
            self.dropped_tokens += len(self._ids)
            self._ids, self._docs, self._starts, self._continues = [], [], [], False
            return []
        return [self._emit()]

    def _emit(self) -> dict:
        used = len(self._ids)
        sequence = {"input_ids": self._ids + [self.pad_id] * (self.seq_len - used), "doc_ids": self._docs,
                    "doc_starts": self._starts, "num_tokens": used, "continues": self._continues}
        self._ids, self._docs, self._starts, self._continues = [], [], [], False
        return sequence


def pack_documents(docs: Iterable[tuple[str, list[int]]], seq_len: int, eos_id: Optional[int], pad_id: int,
                   remainder: str = "pad") -> Iterator[dict]:
    packer = Packer(seq_len, eos_id, pad_id, remainder)
    for doc_id, ids in docs:
        yield from packer.add(doc_id, ids)
    yield from packer.finish()


def ids_to_bytes(ids: list[int]) -> bytes:
    """Token ids as little-endian int32 bytes: 4 bytes a token through a shuffle, where a list
    of Python ints costs about ten times that."""
    return np.asarray(ids, dtype="<i4").tobytes()


def ids_from_bytes(data: bytes) -> list[int]:
    return np.frombuffer(data, dtype="<i4").tolist()


class TokenizeRows(beam.DoFn):
    """rows -> rows with ``count_field`` = tokens of ``text_field`` (and the ids under
    ``ids_field`` when given, as ``ids_to_bytes``), encoded in batches; the tokenizer is loaded
    once per worker."""

    def __init__(self, tokenizer_path: str, text_field: str = "text", count_field: str = "num_tokens",
                 ids_field: Optional[str] = None, batch_size: int = 256, ids_sources: Optional[frozenset] = None,
                 prepare: Optional[Callable] = None):
        self.path, self.text_field, self.count_field = tokenizer_path, text_field, count_field
        self.ids_field, self.batch_size = ids_field, batch_size
        self.ids_sources = ids_sources    # keep ids only for rows of these sources (None: every row)
        self.prepare = prepare            # row -> the row whose ``text_field`` is counted (not yielded)

    def setup(self):
        self._tokenizer = load_tokenizer(self.path)

    def start_bundle(self):
        self._batch = []

    def process(self, row):
        self._batch.append(row)
        if len(self._batch) >= self.batch_size:
            yield from self._flush()

    def finish_bundle(self):
        from apache_beam.transforms.window import GlobalWindows

        for row in self._flush():
            yield GlobalWindows.windowed_value(row)

    def _flush(self):
        batch, self._batch = self._batch, []
        counted = [self.prepare(r) for r in batch] if self.prepare else batch
        for row, ids in zip(batch, encode_texts(self._tokenizer, [r.get(self.text_field) for r in counted])):
            out = {**row, self.count_field: len(ids)}
            if self.ids_field and (self.ids_sources is None or row.get("source") in self.ids_sources):
                out[self.ids_field] = ids_to_bytes(ids)
            yield out
