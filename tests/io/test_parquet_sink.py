"""The deterministic Parquet sink: shard count, names, order, empty tables."""

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from codecorpus.io.parquet import WriteTable, finalise_table, shard_count
from codecorpus.jobs.runner import make_local_runner

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def write(tmp_path, rows, **output):
    cfg = {"shard_target_bytes": 1 << 28, "num_shards": None, "row_group_bytes": 1 << 26, "compression": "zstd"}
    cfg.update(output)
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions([])
    with beam.Pipeline(runner=make_local_runner(options), options=options) as p:
        _ = (p | beam.Create(rows) | WriteTable(str(tmp_path), "t", SCHEMA, lambda r: (r["id"],), cfg))
    return finalise_table(str(tmp_path), "t", SCHEMA)


def test_shard_count_from_target_size():
    assert shard_count(0, 100) == 1
    assert shard_count(250, 100) == 3
    assert shard_count(250, 100, fixed=7) == 7


def test_rows_are_sharded_sorted_and_named(tmp_path):
    rows = [{"id": f"{i:04d}", "text": "x" * 100} for i in range(300)]
    files = write(tmp_path, rows, shard_target_bytes=10_000)   # ~31 KB of rows -> 4 shards
    names = [f["path"] for f in files]
    assert names == [f"t/part-{i:05d}-of-{len(files):05d}.parquet" for i in range(len(files))]
    assert len(files) == 4 and all(f["rows"] > 0 for f in files)
    assert sum(f["rows"] for f in files) == 300
    seen = []
    for f in files:
        ids = pq.read_table(tmp_path / f["path"]).column("id").to_pylist()
        assert ids == sorted(ids)
        seen += ids
    assert sorted(seen) == [r["id"] for r in rows]


def test_fixed_shard_count_and_small_row_groups(tmp_path):
    rows = [{"id": f"{i:04d}", "text": "y" * 50} for i in range(100)]
    files = write(tmp_path, rows, num_shards=2, row_group_bytes=500)
    assert len(files) == 2
    meta = pq.ParquetFile(tmp_path / files[0]["path"]).metadata
    assert meta.num_row_groups > 1 and meta.row_group(0).column(0).compression == "ZSTD"


def test_empty_table_gets_one_file_with_its_schema(tmp_path):
    files = write(tmp_path, [])
    assert files == [{"path": "t/part-00000-of-00001.parquet", "rows": 0, "bytes": files[0]["bytes"]}]
    assert pq.read_table(tmp_path / files[0]["path"]).schema == SCHEMA


def test_same_rows_in_any_order_give_identical_bytes(tmp_path):
    rows = [{"id": f"{i:04d}", "text": f"text {i}"} for i in range(200)]
    a = write(tmp_path / "a", rows, num_shards=3)
    b = write(tmp_path / "b", list(reversed(rows)), num_shards=3)
    for fa, fb in zip(a, b):
        assert (tmp_path / "a" / fa["path"]).read_bytes() == (tmp_path / "b" / fb["path"]).read_bytes()
