"""Deterministic, sharded Parquet tables.

``WriteTable`` assigns each row to a shard by a hash of its sort key, groups each shard on one
worker, sorts it and writes it to ``<output>/_tmp/<table>/shard-NNNNN.parquet``. After the
pipeline has finished, ``finalise_table`` (run by the launcher) renames the non-empty shards
to ``<table>/part-00000-of-0000N.parquet``; a table with no rows gets one empty file that
carries its schema, so every table can always be loaded.

The same rows give byte-identical files: shard choice and order depend on the rows only, and
no timestamps are written. The shard count comes from the total row bytes (a single summed
number, broadcast as a side input) and ``shard_target_bytes``, or from ``num_shards``.

Rows cross the shard shuffle with their long string columns compressed (``core.blobs``),
next to their size, and are decompressed one row group at a time as the shard is
written, so a writer holds one row group of text, not a shard of it.
"""

from __future__ import annotations

import math
import posixpath
from typing import Callable

import apache_beam as beam
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from codecorpus.core import blobs

TMP_DIR = "_tmp"


def join_path(root: str, *parts: str) -> str:
    return posixpath.join(root.rstrip("/"), *parts)


def row_bytes(row: dict) -> int:
    total = 0
    for value in row.values():
        if isinstance(value, str):
            total += len(value)
        elif value is not None:
            total += 8
    return total


def shard_count(total_bytes: int, target_bytes: int, fixed: int | None = None) -> int:
    if fixed:
        return int(fixed)
    return max(1, math.ceil(total_bytes / max(1, target_bytes)))


def shard_of(sort_key: tuple, num_shards: int) -> int:
    return xxhash.xxh64_intdigest("\x1f".join(map(str, sort_key)).encode("utf-8", "surrogatepass")) % num_shards


def write_parquet(rows: list, schema: pa.Schema, path: str, row_group_bytes: int, compression: str,
                  sizes: list[int] | None = None, prepare: Callable | None = None) -> int:
    """Write ``rows`` (already in their final order) to ``path``; returns the row count.

    Row groups hold ``row_group_bytes`` of rows by their mean ``row_bytes`` (``sizes``: those
    of the rows, when ``rows`` are not the rows themselves but, e.g., packed ones that
    ``prepare`` turns back into rows, one row group at a time)."""
    sizes = [row_bytes(r) for r in rows] if sizes is None else sizes
    per_row = max(1, sum(sizes) // max(1, len(rows)))
    rows_per_group = max(1, row_group_bytes // per_row)
    with fsspec.open(path, "wb") as f:
        with pq.ParquetWriter(f, schema, compression=compression) as writer:
            for start in range(0, len(rows), rows_per_group):
                chunk = rows[start:start + rows_per_group]
                if prepare is not None:
                    chunk = [prepare(r) for r in chunk]
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
    return len(rows)


def text_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The string columns of a schema: what crosses the shard shuffle compressed."""
    return tuple(f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type))


def assign_shard(row: dict, sort_key: Callable, fields: tuple, num_shards: int) -> tuple:
    """``(shard, (row_bytes, packed row))``: what a row carries across the shard shuffle, its
    size computed here from the text and its ``fields`` packed."""
    return shard_of(sort_key(row), num_shards), (row_bytes(row), blobs.pack(row, fields))


def write_shard(entries, schema: pa.Schema, path: str, row_group_bytes: int, compression: str,
                sort_key: Callable, fields: tuple) -> int:
    """A shard's ``(row_bytes, packed row)`` entries -> one Parquet file, rows in the order of
    ``sorted(rows, key=sort_key)``, unpacked one row group at a time. The sort key is taken
    from each row unpacked on its own (a key may read a text column, as the dead letters'
    does), so only the keys, not the rows' text, are held decoded at once."""
    entries = list(entries)
    keys = [sort_key(blobs.unpack(packed, fields)) for _size, packed in entries]
    order = sorted(range(len(entries)), key=keys.__getitem__)
    del keys
    return write_parquet([entries[i][1] for i in order], schema, path, row_group_bytes, compression,
                         sizes=[entries[i][0] for i in order], prepare=lambda r: blobs.unpack(r, fields))


class _WriteShard(beam.DoFn):
    def __init__(self, table_tmp_dir, schema, sort_key, row_group_bytes, compression):
        self.table_tmp_dir = table_tmp_dir
        self.schema = schema
        self.sort_key = sort_key
        self.row_group_bytes = row_group_bytes
        self.compression = compression

    def process(self, element):
        shard, entries = element
        path = join_path(self.table_tmp_dir, f"shard-{shard:05d}.parquet")
        yield path, write_shard(entries, self.schema, path, self.row_group_bytes, self.compression,
                                self.sort_key, text_columns(self.schema))


class WriteTable(beam.PTransform):
    """rows -> Parquet shards of one table (finalised by ``finalise_table``)."""

    def __init__(self, output: str, table: str, schema: pa.Schema, sort_key: Callable[[dict], tuple], output_config: dict):
        super().__init__()
        self.output = output
        self.table = table
        self.schema = schema
        self.sort_key = sort_key
        self.cfg = output_config

    def expand(self, rows):
        total_bytes = beam.pvalue.AsSingleton(
            rows | "MeasureRowBytes" >> beam.Map(row_bytes) | "SumBytes" >> beam.CombineGlobally(sum))
        target, fixed = self.cfg["shard_target_bytes"], self.cfg.get("num_shards")
        sort_key, fields = self.sort_key, text_columns(self.schema)
        return (
            rows
            | "AssignShard" >> beam.Map(
                lambda row, total: assign_shard(row, sort_key, fields, shard_count(total, target, fixed)),
                total_bytes)
            | "GroupShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(
                join_path(self.output, TMP_DIR, self.table), self.schema, sort_key,
                self.cfg["row_group_bytes"], self.cfg["compression"])))


def finalise_table(output: str, table: str, schema: pa.Schema, compression: str = "zstd",
                   splits: list[str] | None = None) -> list[dict]:
    """Rename a table's written shards to their final names; returns the file list with row
    counts and sizes. Runs once, in the launcher, after the pipeline has finished.

    Without ``splits`` the shards ``shard-*`` become ``part-i-of-N``; with them, each split's
    ``<split>-shard-*`` become ``<split>-i-of-N`` (and each file entry names its split). A table
    or split with no rows gets one empty file that carries the schema."""
    fs, _ = fsspec.core.url_to_fs(output)
    tmp, final_dir = join_path(output, TMP_DIR, table), join_path(output, table)
    if fs.exists(final_dir):
        fs.rm(final_dir, recursive=True)
    fs.makedirs(final_dir, exist_ok=True)
    files = []
    for split in (splits if splits is not None else [None]):
        shard_glob, name = ("shard-*.parquet", "part") if split is None else (f"{split}-shard-*.parquet", split)
        shards = sorted(fs.glob(join_path(tmp, shard_glob))) if fs.exists(tmp) else []
        if not shards:
            finals = [join_path(final_dir, f"{name}-00000-of-00001.parquet")]
            write_parquet([], schema, finals[0], 1, compression)
        else:
            finals = []
            for i, shard in enumerate(shards):
                finals.append(join_path(final_dir, f"{name}-{i:05d}-of-{len(shards):05d}.parquet"))
                fs.mv(shard, finals[-1])
        for path in finals:
            with fsspec.open(path, "rb") as f:
                rows = pq.ParquetFile(f).metadata.num_rows
            relative = posixpath.relpath(path, output.rstrip("/")) if "://" not in output \
                else path[len(output.rstrip("/")) + 1:]
            files.append({"path": relative, **({"split": split} if split is not None else {}), "rows": rows,
                          "bytes": fs.size(path)})
    return files
