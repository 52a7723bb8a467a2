"""The table writer's shard shuffle carries packed rows (issue 19, item 2): a shard written from
them is byte for byte the file written from the rows, row groups and order included."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq

from codecorpus.io import parquet
from codecorpus.io.parquet import assign_shard, text_columns, write_parquet, write_shard

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("n", pa.int64()), ("note", pa.large_string())])


def rows_of(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    words = ["def", "return", "x", "é", "日本", "🚀", "\n", "    ", "class", "{", "}"]
    return [{"id": f"{rng.randrange(count // 2):04d}",   # repeated ids: ties the sort must keep stable
             "text": " ".join(rng.choice(words) for _ in range(rng.choice([0, 3, 40, 400, 3000]))),
             "n": i, "note": rng.choice([None, "short", "n" * 200])} for i in range(count)]


def test_text_columns_are_the_string_columns():
    assert text_columns(SCHEMA) == ("id", "text", "note")


def test_a_shard_from_packed_rows_is_the_same_file(tmp_path):
    for seed, row_group_bytes, key in ((1, 1 << 26, lambda r: (r["id"],)), (2, 2_000, lambda r: (r["id"],)),
                                       (3, 700, lambda r: (r["text"], r["id"])), (4, 1, lambda r: ())):
        rows = rows_of(seed, 120)
        entries = [assign_shard(r, key, text_columns(SCHEMA), 1)[1] for r in rows]
        rows_file, packed_file = tmp_path / f"rows{seed}.parquet", tmp_path / f"packed{seed}.parquet"
        write_parquet(sorted(rows, key=key), SCHEMA, str(rows_file), row_group_bytes, "zstd")
        write_shard(entries, SCHEMA, str(packed_file), row_group_bytes, "zstd", key, text_columns(SCHEMA))
        assert packed_file.read_bytes() == rows_file.read_bytes(), seed
        meta = pq.ParquetFile(packed_file).metadata
        assert meta.num_rows == 120 and (row_group_bytes > 1 << 20 or meta.num_row_groups > 1)


def test_what_crosses_the_shuffle_is_packed_and_sized_from_the_text():
    row = {"id": "a", "text": "def f():\n    return 1\n" * 50, "n": 3, "note": "short"}
    shard, (size, packed) = assign_shard(row, lambda r: (r["id"],), text_columns(SCHEMA), 4)
    assert shard == parquet.shard_of(("a",), 4)
    assert size == parquet.row_bytes(row)
    assert isinstance(packed["text"], bytes) and len(packed["text"]) < len(row["text"]) // 5
    assert packed["id"] == "a" and packed["note"] == "short" and packed["n"] == 3
