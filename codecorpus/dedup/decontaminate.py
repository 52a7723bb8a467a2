"""Benchmark decontamination: find records that share a long n-gram with an evaluation set.

Evaluation sets are named and given as files (local paths or fsspec URLs); codecorpus ships no
benchmark data. Per file, by name:

- ``.jsonl`` / ``.ndjson`` (optionally compressed, e.g. HumanEval's ``.jsonl.gz``, MBPP): one
  JSON object per line;
- ``.json``: a list of objects (Spider's ``dev.json``) or one object;
- ``.parquet``: rows;
- anything else (``.txt``, ``.sql``, ``.py`` …): the whole file is one text.

From an object, each configured field (all string fields when ``fields`` is not set) is one
text, so no n-gram spans a prompt and its solution. A text contributes the hashes of its word
n-grams (``word_ngram`` tokens, tokens as in ``minhash.tokens``) and of its character windows
(``char_window`` characters of the text lower-cased with whitespace runs collapsed to one
space). A record matches a benchmark when any of its n-grams or windows is among that
benchmark's. Texts shorter than both sizes contribute nothing and are counted as ``too_short``.

The index is a sorted array of hashes with a bit mask of benchmarks per hash: small (a few MB
for HumanEval + MBPP + Spider dev), built once per worker from the paths.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Iterator, Optional, Sequence

import fsspec
import numpy as np

from codecorpus.io.rows import file_format, iter_rows
from codecorpus.dedup.minhash import ngram_hashes, token_hashes, window_hashes

MAX_BENCHMARKS = 64  # one bit each in the index's masks
_JSON_DOCUMENT = re.compile(r"\.json(\.(gz|gzip|bz2|zst|xz))?$", re.IGNORECASE)


def collapse_whitespace(text: str) -> str:
    return " ".join(text.lower().split())


def _texts_of(obj, fields: Optional[Sequence[str]]) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        names = fields if fields else sorted(obj)
        for name in names:
            value = obj.get(name)
            if isinstance(value, str):
                yield value
            elif isinstance(value, list) and fields:  # e.g. MBPP's test_list
                yield from (v for v in value if isinstance(v, str))


def load_texts(path: str, fields: Optional[Sequence[str]] = None) -> Iterator[str]:
    """The texts of one evaluation file (see the module docstring for formats). A malformed line
    raises: an evaluation set read in part would decontaminate in part."""
    kind = file_format(path)
    if kind == "parquet" or (kind == "ndjson" and not _JSON_DOCUMENT.search(path)):
        for row in iter_rows(path):
            if row.error is not None:
                raise ValueError(f"evaluation file {row.source}: {row.error}")
            yield from _texts_of(row.value, fields)
    elif kind == "ndjson":
        with fsspec.open(path, "rt", encoding="utf-8-sig", compression="infer") as f:
            data = json.load(f)
        for obj in data if isinstance(data, list) else [data]:
            yield from _texts_of(obj, fields)
    else:
        with fsspec.open(path, "rt", encoding="utf-8", compression="infer") as f:
            yield f.read()


class EvalIndex:
    """Word n-gram and character-window hashes of named evaluation sets."""

    def __init__(self, word_ngram: Optional[int] = 10, char_window: Optional[int] = 50, seed: int = 0):
        if not word_ngram and not char_window:
            raise ValueError("decontamination needs word_ngram or char_window (or both)")
        self.word_ngram, self.char_window, self.seed = word_ngram, char_window, seed
        self.names: list[str] = []
        self.stats: dict[str, dict[str, int]] = {}
        self._parts: dict[str, list] = {"word": [], "char": []}
        self._index: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_config(cls, cfg: dict) -> "EvalIndex":
        """``cfg`` is the ``dedup.decontaminate`` section."""
        index = cls(cfg.get("word_ngram", 10), cfg.get("char_window", 50), cfg.get("seed", 0))
        for bench in cfg.get("benchmarks") or []:
            paths = bench.get("paths") or []
            if not bench.get("name") or not paths:
                raise ValueError(f"a decontamination benchmark needs a name and paths: {bench!r}")
            for path in paths:
                fs, local = fsspec.core.url_to_fs(path)
                if not fs.exists(local):
                    raise FileNotFoundError(f"benchmark {bench['name']}: file not found: {path}")
            texts = (t for path in paths for t in load_texts(path, bench.get("fields")))
            index.add(bench["name"], texts)
        return index.freeze()

    def add(self, name: str, texts: Iterable[str]) -> "EvalIndex":
        if name not in self.names:
            if len(self.names) == MAX_BENCHMARKS:
                raise ValueError(f"at most {MAX_BENCHMARKS} decontamination benchmarks")
            self.names.append(name)
            self.stats[name] = {"texts": 0, "too_short": 0, "word_ngrams": 0, "char_windows": 0}
        bit = np.uint64(1) << np.uint64(self.names.index(name))
        stats = self.stats[name]
        for text in texts:
            words, chars = self._hashes(text)
            stats["texts"] += 1
            stats["too_short"] += int(not len(words) and not len(chars))
            stats["word_ngrams"] += len(words)
            stats["char_windows"] += len(chars)
            self._parts["word"].append((words, bit))
            self._parts["char"].append((chars, bit))
        return self

    def freeze(self) -> "EvalIndex":
        for kind, parts in self._parts.items():
            hashes = np.concatenate([h for h, _ in parts] or [np.empty(0, np.uint64)])
            bits = np.concatenate([np.full(len(h), bit, np.uint64) for h, bit in parts] or [np.empty(0, np.uint64)])
            keys, inverse = np.unique(hashes, return_inverse=True)
            masks = np.zeros(len(keys), dtype=np.uint64)
            np.bitwise_or.at(masks, inverse, bits)
            self._index[kind] = (keys, masks)
        self._parts = {"word": [], "char": []}
        return self

    def _hashes(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore"):
            words = (ngram_hashes(token_hashes(text, self.seed), self.word_ngram, self.seed, short=False)
                     if self.word_ngram else np.empty(0, np.uint64))
            chars = (window_hashes(collapse_whitespace(text), self.char_window, self.seed)
                     if self.char_window else np.empty(0, np.uint64))
        return words, chars

    def __bool__(self) -> bool:
        return bool(self.names)

    def matches(self, text: str) -> list[str]:
        """The benchmarks ``text`` shares an n-gram or window with, in configuration order."""
        if not self.names or not text:
            return []
        mask = np.uint64(0)
        for kind, hashes in zip(("word", "char"), self._hashes(text)):
            keys, masks = self._index[kind]
            if not len(hashes) or not len(keys):
                continue
            pos = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
            hit = keys[pos] == hashes
            if hit.any():
                mask |= np.bitwise_or.reduce(masks[pos[hit]])
        return [name for i, name in enumerate(self.names) if int(mask) >> i & 1]
