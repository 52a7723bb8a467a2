"""Users' tables (pii, dedup, mix inputs) through the one row reader: bad rows are dead letters,
unreadable files raise, every line is counted."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus.core.routing import Count, DeadLetter
from codecorpus.io.rows import UnreadableFile, lines_identity
from codecorpus.io.tables import iter_record_events


def events_of(path, table="records"):
    events = list(iter_record_events(str(path), table=table))
    counts = {e.counter: e.value for e in events if isinstance(e, Count)}
    records = [e for e in events if isinstance(e, dict)]
    dead = [e.row for e in events if isinstance(e, DeadLetter)]
    return records, dead, counts


def test_bom_bad_lines_and_line_counts(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    lines = [b'\xef\xbb\xbf{"id": 1}', b"", b'{"id": 2', b"[1]", b'{"id": "\\udc80"}', b"[" * 10_000 + b"]" * 10_000,
             b'{"id": 3}']
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    records, dead, counts = events_of(path)
    assert records == [{"id": 1}, {"id": 3}]                  # 15.9: the BOM row is a record
    assert counts == {"lines/records": 6, "read/records": 6}  # the blank line is no line of data
    assert [d["source"].rsplit(":", 1)[1] for d in dead] == ["3", "4", "5", "6"]
    assert dead[0]["raw"] == '{"id": 2' and dead[0]["error"].startswith("malformed JSON")
    assert "must be a JSON object" in dead[1]["error"] and "not valid UTF-8" in dead[2]["error"]
    assert dead[3]["error"] == "malformed JSON: nested too deeply"


def test_parquet_rows_are_counted(tmp_path):
    pq.write_table(pa.table({"id": [1, 2, 3]}), tmp_path / "t.parquet")
    records, dead, counts = events_of(tmp_path / "t.parquet", table="src")
    assert [r["id"] for r in records] == [1, 2, 3] and counts == {"lines/src": 3, "read/src": 3}


def test_unreadable_file_raises(tmp_path):
    with pytest.raises(UnreadableFile):
        events_of(tmp_path / "gone.jsonl")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UnreadableFile, match="broken.parquet"):
        events_of(tmp_path / "broken.parquet")


def test_lines_identity():
    ok = {"lines/a": 5, "read/a": 5, "dead_letter/a/parse": 2, "lines/b": 1, "read/b": 1, "read/c": 9}
    assert lines_identity(ok, {}) == {"lines": 6, "records": 4, "dead_lettered": 2, "holds": True}
    assert not lines_identity({**ok, "read/b": 0}, {})["holds"]   # a file's rows went missing
