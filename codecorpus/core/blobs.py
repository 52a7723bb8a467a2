"""Blob text through shuffles: zstd-compressed bytes in place of long strings.

A shuffle (GroupByKey, CoGroupByKey) holds every value it carries: the local runners keep it
in memory, encoded and then decoded; Dataflow bills it per byte (docs/scale.md). File contents
are most of those bytes, and source code compresses well, so a record crosses a shuffle with
its text fields ``pack``-ed (zstd, fast level, no dictionary) and is ``unpack``-ed in the
stage after it that reads the text. Nothing else changes: ``unpack(pack(r, f), f) == r`` for
every string, lone surrogates included (``surrogatepass``, as the hashes of ``dedup.minhash``).

A ``contents`` row (a blob: ``id``, ``content`` …) crosses a join keyed by id with its
``content`` packed (``keyed_blob``); the commits and files jobs both read them that way.

A packed field holds ``bytes`` where the record had a ``str``; a field listed as text never
holds bytes otherwise, so no marker is needed. Strings shorter than ``MIN_CHARS`` stay as they
are: a zstd frame costs about ten bytes of its own, more than a short path or sha would save.
"""

from __future__ import annotations

import threading
from typing import Iterable, Optional

import zstandard

LEVEL = 1          # zstd's fastest positive level: ~3-4x on source code at a few hundred MB/s
MIN_CHARS = 64     # shorter strings are left as str (a frame's header would outweigh the gain)
BLOB_TEXT = ("content",)   # the text of a contents row: what crosses a contents join compressed

_local = threading.local()  # zstd (de)compressor objects are not safe to share between threads


def _compressor() -> zstandard.ZstdCompressor:
    c = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)  # writes the content size
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def pack_text(text: str) -> bytes:
    return _compressor().compress(text.encode("utf-8", "surrogatepass"))


def unpack_text(data: bytes) -> str:
    return _decompressor().decompress(data).decode("utf-8", "surrogatepass")


def pack(record: dict, fields: Iterable[str]) -> dict:
    """``record`` with each of ``fields`` that holds a string of ``MIN_CHARS`` or more replaced
    by its compressed bytes (a new dict, keys in the same order; the record itself when no
    field needs it)."""
    packed = None
    for name in fields:
        value = record.get(name)
        if isinstance(value, str) and len(value) >= MIN_CHARS:
            if packed is None:
                packed = dict(record)
            packed[name] = pack_text(value)
    return record if packed is None else packed


def unpack(record: dict, fields: Iterable[str]) -> dict:
    """The inverse of ``pack``: each of ``fields`` holding bytes back to its string."""
    unpacked = None
    for name in fields:
        value = record.get(name)
        if isinstance(value, bytes):
            if unpacked is None:
                unpacked = dict(record)
            unpacked[name] = unpack_text(value)
    return record if unpacked is None else unpacked


def keyed_blob(blob: dict) -> tuple:
    """A contents row as a contents join carries it: keyed by id, its text packed."""
    return blob["id"], pack(blob, BLOB_TEXT)


def pick_blob(blobs: Iterable[dict]) -> Optional[dict]:
    """One of a blob's rows (packed or not), or None. The same blob may appear more than once
    in a dump; any copy will do, prefer one with text."""
    return max(blobs, key=lambda b: b.get("content") is not None, default=None)
