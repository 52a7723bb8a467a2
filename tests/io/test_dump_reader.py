"""Finding a dump's table files and reading them line by line, bad lines included."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus.io.dump import iter_file_events, table_files
from codecorpus.io.records import RecordError, normalise
from codecorpus.core.routing import Count, DeadLetter


def events_of(path, table):
    events = list(iter_file_events(str(path), table))
    records = [e for e in events if isinstance(e, dict)]
    dead = [e.row for e in events if isinstance(e, DeadLetter)]
    counts = [e for e in events if isinstance(e, Count)]
    assert len(counts) == 1 and counts[0].counter == f"read/{table}"
    return records, dead, counts[0].value


def test_table_files_finds_single_sharded_and_folder_layouts(tmp_path):
    for name in ("commits.jsonl.gz", "contents-000000000000.json.gz", "contents-000000000001.json.gz",
                 "licenses.parquet", "notes.txt", "_SUCCESS", "commits_schema.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "000000000000.ndjson").write_bytes(b"")
    assert [p.split("/")[-1] for p in table_files(str(tmp_path), "commits")] == ["commits.jsonl.gz"]
    assert len(table_files(str(tmp_path), "contents")) == 2
    assert table_files(str(tmp_path), "licenses")[0].endswith("licenses.parquet")
    assert table_files(str(tmp_path), "files")[0].endswith("files/000000000000.ndjson")
    assert table_files(str(tmp_path), "languages") == []
    with pytest.raises(FileNotFoundError):
        table_files(str(tmp_path / "nope"), "commits")


def test_table_files_on_an_fsspec_memory_filesystem():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/dumpx/commits.jsonl", b'{"commit": "abc"}\n')
    files = table_files("memory://dumpx", "commits")
    assert len(files) == 1 and files[0].startswith("memory://") and files[0].endswith("/dumpx/commits.jsonl")
    records, dead, read = events_of(files[0], "commits")
    assert read == 1 and records[0]["commit"] == "abc" and not dead


def test_bad_lines_become_dead_letters_and_every_line_is_counted(tmp_path):
    good = {"commit": "c1", "message": "Fix it\n", "repo_name": ["a/b"], "difference": None}
    lines = [
        json.dumps(good).encode(),
        b'{"commit": "c2", "message": "trunc',                       # truncated JSON
        b"",                                                           # blank: not a record
        json.dumps({"commit": 42}).encode(),                          # wrong type
        json.dumps({"commit": "c3", "difference": "oops"}).encode(),  # wrong type, nested
        b'{"commit": "c4", "message": "caf\xe9"}',                     # latin-1 bytes: not UTF-8
        b"[1, 2, 3]",                                                  # not an object
        json.dumps({"commit": "c5", "repo_name": "a/b", "author": None}).encode(),  # fixable
    ]
    path = tmp_path / "commits.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    records, dead, read = events_of(path, "commits")
    assert read == 7
    assert [r["commit"] for r in records] == ["c1", "c5"]
    assert records[0]["difference"] == [] and records[1]["repo_name"] == ["a/b"]
    assert records[0]["_source"].endswith("commits.jsonl.gz:1")
    errors = [d["error"] for d in dead]
    assert errors[0].startswith("malformed JSON")
    assert "field 'commit' must be a string" in errors[1] and dead[1]["key"] is None
    assert "difference" in errors[2] and dead[2]["key"] == "c3"
    assert errors[3].startswith("line is not valid UTF-8")
    assert "must be a JSON object" in errors[4]
    assert all(d["stage"] == "parse" and d["table"] == "commits" for d in dead)
    assert dead[0]["source"].endswith(":2") and dead[0]["raw"].startswith('{"commit": "c2"')


def test_undecodable_contents_keep_their_blob_id(tmp_path):
    path = tmp_path / "contents.jsonl"
    path.write_bytes(b'{"id": "b1", "content": "caf\xe9", "size": 4}\n{"id": "b2", "content": "\\udc80x"}\n')
    records, dead, read = events_of(path, "contents")
    assert read == 2 and not dead
    assert [r["id"] for r in records] == ["b1", "b2"]
    assert all(r["undecodable"] and r["content"] is None for r in records)


def test_undecodable_text_in_a_commit_is_dead_lettered(tmp_path):
    path = tmp_path / "commits.jsonl"
    path.write_bytes(b'{"commit": "c1", "message": "Fix \\udc80 bytes"}\n')
    records, dead, read = events_of(path, "commits")
    assert read == 1 and not records
    assert dead[0]["error"].endswith("is not valid UTF-8 text")
    assert "\\udc80" in dead[0]["raw"]  # the JSON escape as it was in the line


def test_truncated_gzip_file_dead_letters_the_rest(tmp_path):
    data = gzip.compress(b"".join(json.dumps({"id": f"b{i}", "content": "x" * 100}).encode() + b"\n"
                                  for i in range(2000)))
    path = tmp_path / "contents.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    records, dead, read = events_of(path, "contents")
    assert len(dead) == 1 and dead[0]["stage"] == "read" and "unreadable" in dead[0]["error"]
    assert read == len(records) + 1


def test_parquet_dump_table(tmp_path):
    from codecorpus.schemas import CONTENTS

    table = pa.Table.from_pylist([{"id": "b1", "size": 3, "content": "abc", "binary": False, "copies": 1},
                                  {"id": None, "size": 0, "content": None, "binary": True, "copies": 1}],
                                 schema=CONTENTS)
    pq.write_table(table, tmp_path / "contents.parquet")
    records, dead, read = events_of(tmp_path / "contents.parquet", "contents")
    assert read == 2 and records[0]["content"] == "abc"
    assert "'id' is missing" in dead[0]["error"] and dead[0]["source"].endswith("#2")


def test_normalise_coerces_bigquery_json_types():
    record = normalise("contents", {"id": "b", "size": "12", "binary": "false", "content": "x"})
    assert record["size"] == 12 and record["binary"] is False
    with pytest.raises(RecordError):
        normalise("contents", {"id": "b", "size": "twelve"})
    commit = normalise("commits", {"commit": "c", "message": "Fix a\n\nbody", "subject": None})
    assert commit["subject"] == "Fix a" and commit["parent"] == [] and commit["trailer"] == []
