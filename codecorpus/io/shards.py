"""Shuffled shards of equal row count, named per split, for trainers.

``BalancedShards`` takes rows that carry a 64-bit shuffle key ``_key`` (a seeded hash, so the
shuffle is the same on every run) and cuts the key order into ``num_shards`` contiguous runs
whose row counts differ by at most one. Reading the shards in order gives the global shuffled
order; giving rank r every W-th shard gives every rank the same number of rows (±1 per shard).

How, without a global sort on one worker: the key space is cut into buckets (contiguous key
ranges, about ``bucket_rows`` rows each); a count per bucket (one integer per bucket) gives each
bucket its first global rank; the sort keys of each bucket are sorted on their own worker, which
finds the keys at which shards begin (``num_shards - 1`` of them, gathered); every row then
bisects those to find its shard, and each shard is grouped, sorted and written. Rows cross one
shuffle (their ``packed`` text fields zstd-compressed, ``core.blobs``), sort keys two; no step
holds more than a bucket's keys or a shard.

Files go to ``<output>/_tmp/<table>/<split>-shard-NNNNN.parquet``; ``finalise_split_table``
renames them to ``<table>/<split>-00000-of-0000N.parquet`` (the layout ``datasets`` reads as
splits) after the run.
"""

from __future__ import annotations

import bisect
import math
from typing import Callable, Optional

import apache_beam as beam

from codecorpus.core import blobs
from codecorpus.io.parquet import TMP_DIR, finalise_table, join_path, write_parquet

KEY = "_key"


def approx_bytes(row: dict) -> int:
    """A row's size for shard counts: text by characters, lists by items (4 bytes per token id)."""
    total = 0
    for value in row.values():
        if isinstance(value, (str, bytes)):
            total += len(value)
        elif isinstance(value, (list, tuple)):
            total += sum(approx_bytes(v) if isinstance(v, dict) else len(v) if isinstance(v, str) else 4
                         for v in value)
        elif isinstance(value, dict):
            total += approx_bytes(value)
        elif value is not None:
            total += 8
    return total


def split_shard_count(rows: int, total_bytes: int, fixed: Optional[int], target_bytes: int, multiple: int = 1) -> int:
    """Shards for a split: ``fixed``, or enough for ``target_bytes`` each rounded up to a
    multiple of ``multiple`` (ranks x data-loader workers); never more than rows (no empty
    shard), never fewer than one."""
    if fixed:
        count = int(fixed)
    else:
        count = max(1, math.ceil(total_bytes / max(1, target_bytes)))
        count = math.ceil(count / max(1, multiple)) * max(1, multiple)
    return max(1, min(count, rows))


def bucket_of(key: int, buckets: int) -> int:
    """Bucket of a 64-bit key: contiguous, ordered key ranges."""
    return (key * buckets) >> 64


class _BucketCounts(beam.CombineFn):
    """(bucket, count) pairs -> {bucket: count}: one small integer per bucket (``max_buckets``
    at most), so every worker can know where each bucket starts in the global order."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, element):
        bucket, count = element
        acc[bucket] = acc.get(bucket, 0) + count
        return acc

    def merge_accumulators(self, accumulators):
        merged = {}
        for acc in accumulators:
            for bucket, count in acc.items():
                merged[bucket] = merged.get(bucket, 0) + count
        return merged

    def extract_output(self, acc):
        return acc


def bucket_offsets(counts: dict) -> dict:
    """{bucket: rows} -> {bucket: global rank of its first row}."""
    offsets, total = {}, 0
    for bucket in sorted(counts):
        offsets[bucket] = total
        total += counts[bucket]
    return offsets


class CountPerBucket(beam.PTransform):
    """(bucket, row) -> a singleton {bucket: first global rank}."""

    def expand(self, keyed):
        return (keyed
                | "OnePerRow" >> beam.Map(lambda kv: (kv[0], 1))
                | "RowsPerBucket" >> beam.CombinePerKey(sum)
                | "GatherBucketCounts" >> beam.CombineGlobally(_BucketCounts())
                | "FirstRanks" >> beam.Map(bucket_offsets))


def layout(rows: int, total_bytes: int, fixed, target_bytes: int, multiple: int, bucket_rows: int,
           max_buckets: int) -> dict:
    """Shards and buckets for a split of ``rows`` rows."""
    shards = split_shard_count(rows, total_bytes, fixed, target_bytes, multiple)
    buckets = max(1, min(max_buckets, math.ceil(rows / max(1, bucket_rows))))
    return {"rows": rows, "shards": shards, "buckets": buckets}


class _ShardStartsInBucket(beam.DoFn):
    """(bucket, sort keys) -> (shard, sort key of its first row) for every shard that starts in
    this bucket: the rows are ranked globally from the bucket's first rank."""

    def process(self, element, plan, offsets):
        bucket, orders = element
        first, rows, shards = offsets.get(bucket, 0), plan["rows"], plan["shards"]
        for j, order in enumerate(sorted(orders)):
            rank = first + j
            shard = rank * shards // rows
            if shard > 0 and (rank - 1) * shards // rows != shard:
                yield shard, order


class _ShardStarts(beam.CombineFn):
    """(shard, first sort key) pairs -> the first sort keys of shards 1..N-1, in shard order."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, element):
        acc[element[0]] = element[1]
        return acc

    def merge_accumulators(self, accumulators):
        merged = {}
        for acc in accumulators:
            merged.update(acc)
        return merged

    def extract_output(self, acc):
        return [acc[shard] for shard in sorted(acc)]


class ShardBoundaries(beam.PTransform):
    """(bucket, sort key) -> a singleton list of the sort keys where shards 1..N-1 begin."""

    def __init__(self, plan, offsets):
        super().__init__()
        self.plan, self.offsets = plan, offsets

    def expand(self, orders):
        return (orders
                | "GroupBucketKeys" >> beam.GroupByKey()
                | "ShardStarts" >> beam.ParDo(_ShardStartsInBucket(), self.plan, self.offsets)
                | "GatherShardStarts" >> beam.CombineGlobally(_ShardStarts()))


def _sorted_shard(element, plan, order, packed=()):
    shard, rows = element
    return shard, plan["shards"], sorted((blobs.unpack(r, packed) for r in rows), key=order)


class BalancedShards(beam.PTransform):
    """rows with ``_key`` -> ``(shard, num_shards, rows in key order)`` with equal counts (±1).

    Only sort keys cross the shuffles that rank the rows; the rows themselves cross one, to
    their shard (found by bisecting the shard boundaries, a list of ``num_shards - 1`` keys),
    with their ``packed`` fields compressed (``core.blobs``)."""

    def __init__(self, fixed_shards, target_bytes: int, multiple: int = 1,
                 order: Callable = lambda row: (row[KEY], row.get("id")), bucket_rows: int = 20_000,
                 max_buckets: int = 1 << 16, size_of: Callable = approx_bytes, packed: tuple = ()):
        super().__init__()
        self.packed = tuple(packed)
        self.fixed, self.target, self.multiple = fixed_shards, target_bytes, multiple
        self.order, self.bucket_rows, self.max_buckets = order, bucket_rows, max_buckets
        self.size_of = size_of

    def expand(self, rows):
        fixed, target, multiple = self.fixed, self.target, self.multiple
        bucket_rows, max_buckets, order, packed = self.bucket_rows, self.max_buckets, self.order, self.packed
        count = rows | "CountRows" >> beam.Map(lambda _: 1) | "SumRows" >> beam.CombineGlobally(sum)
        size = rows | "MeasureBytes" >> beam.Map(self.size_of) | "SumBytes" >> beam.CombineGlobally(sum)
        plan = beam.pvalue.AsSingleton(
            count | "Layout" >> beam.Map(lambda n, b: layout(n, b, fixed, target, multiple, bucket_rows, max_buckets),
                                         beam.pvalue.AsSingleton(size)))
        orders = rows | "SortKeys" >> beam.Map(lambda row, p: (bucket_of(row[KEY], p["buckets"]), order(row)), plan)
        offsets = beam.pvalue.AsSingleton(orders | "BucketRanks" >> CountPerBucket())
        starts = beam.pvalue.AsSingleton(orders | "Boundaries" >> ShardBoundaries(plan, offsets))
        return (rows
                | "ToShard" >> beam.Map(lambda row, b: (bisect.bisect_right(b, order(row)), blobs.pack(row, packed)),
                                        starts)
                | "GroupShard" >> beam.GroupByKey()
                | "SortShard" >> beam.Map(_sorted_shard, plan, order, packed))


class WriteSplitShard(beam.DoFn):
    """(shard, num_shards, rows) -> ``_tmp/<table>/<split>-shard-NNNNN.parquet``; columns not in
    ``schema`` (the ``_`` internals) are left out."""

    def __init__(self, output: str, table: str, split: str, schema, row_group_bytes: int, compression: str,
                 prepare: Callable = None):
        self.tmp_dir = join_path(output, TMP_DIR, table)
        self.split, self.schema = split, schema
        self.row_group_bytes, self.compression = row_group_bytes, compression
        self.prepare = prepare

    def process(self, element):
        shard, _, rows = element
        names = self.schema.names
        if self.prepare is not None:
            rows = [self.prepare(row) for row in rows]
        path = join_path(self.tmp_dir, f"{self.split}-shard-{shard:05d}.parquet")
        yield path, write_parquet([{k: row.get(k) for k in names} for row in rows], self.schema, path,
                                  self.row_group_bytes, self.compression)


def finalise_split_table(output: str, table: str, schema, splits: list[str], compression: str = "zstd") -> list[dict]:
    """``<split>-i-of-N`` files of a table written per split (``io.parquet.finalise_table``)."""
    return finalise_table(output, table, schema, compression, splits=splits)
