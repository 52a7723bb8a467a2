"""Finding a dump's table files and reading them line by line, bad lines included."""

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus.io.dump import iter_file_events, table_files
from codecorpus.io.records import RecordError, normalise
from codecorpus.io import rows
from codecorpus.io.rows import UnreadableFile
from codecorpus.core.routing import Count, DeadLetter


def events_of(path, table):
    events = list(iter_file_events(str(path), table))
    records = [e for e in events if isinstance(e, dict)]
    dead = [e.row for e in events if isinstance(e, DeadLetter)]
    counts = {e.counter: e.value for e in events if isinstance(e, Count)}
    assert set(counts) == {f"read/{table}", f"lines/{table}"}
    assert counts[f"lines/{table}"] == counts[f"read/{table}"] == len(records) + len(dead)  # lines identity
    return records, dead, counts[f"read/{table}"]


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


def test_truncated_gzip_file_raises_instead_of_losing_its_rest(tmp_path):
    """14.3: a file that cannot be read to its end is the runner's to retry, never a dead letter
    (on Dataflow a dead letter here meant the shard's rest was lost and the job exited 0)."""
    data = gzip.compress(b"".join(json.dumps({"id": f"b{i}", "content": "x" * 100}).encode() + b"\n"
                                  for i in range(2000)))
    path = tmp_path / "contents.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFile, match=r"contents\.jsonl\.gz after \d+ line"):
        list(iter_file_events(str(path), "contents"))


def test_missing_or_failing_file_raises(tmp_path, monkeypatch):
    """14.3: FileNotFoundError (a shard gone between listing and reading) and a transient storage
    error both raise, so Beam retries the bundle and the run fails if it persists."""
    with pytest.raises(UnreadableFile, match="FileNotFoundError"):
        list(iter_file_events(str(tmp_path / "commits.jsonl"), "commits"))

    class FlakyStorage(Exception):
        pass

    class FlakyFile(io.BytesIO):
        def __iter__(self):  # one line, then the connection drops
            yield b'{"commit": "c1"}\n'
            raise FlakyStorage("503 Service Unavailable")

    class FlakyFsspec:
        @staticmethod
        def open(path, mode="rb", **kwargs):
            return FlakyFile()

    monkeypatch.setattr(rows, "fsspec", FlakyFsspec)
    with pytest.raises(UnreadableFile, match="after 1 line.*503"):
        list(iter_file_events("gs://bucket/commits.jsonl", "commits"))


@pytest.mark.parametrize("bad", ["--5", "²", "9" * 5000, 2**70, 1e300, "+5"])
def test_one_bad_integer_dead_letters_its_record_only(tmp_path, bad):
    """14.7: a bad value in an integer field used to raise past the per-record handler, and the
    reader gave up on the rest of the file (102 of 260 commits vanished)."""
    lines = [json.dumps({"commit": f"c{i}", "author": {"time_sec": 5}}) for i in range(5)]
    lines.insert(2, json.dumps({"commit": "bad", "author": {"time_sec": bad}}))
    path = tmp_path / "commits.jsonl"
    path.write_text("\n".join(lines) + "\n")
    records, dead, read = events_of(path, "commits")
    assert [r["commit"] for r in records] == [f"c{i}" for i in range(5)]
    assert read == 6 and len(dead) == 1
    assert dead[0]["key"] == "bad" and "author.time_sec" in dead[0]["error"] and dead[0]["source"].endswith(":3")


def test_a_10000_deep_json_line_dead_letters_that_line_only(tmp_path):
    path = tmp_path / "commits.jsonl"
    path.write_text('{"commit": "a"}\n' + "[" * 10_000 + "]" * 10_000 + '\n{"commit": "b"}\n')
    records, dead, read = events_of(path, "commits")
    assert [r["commit"] for r in records] == ["a", "b"] and read == 3
    assert dead[0]["error"] == "malformed JSON: nested too deeply" and dead[0]["source"].endswith(":2")


def test_any_exception_of_one_record_is_its_dead_letter(tmp_path, monkeypatch):
    """Whatever a normaliser raises (not only RecordError) stays with the record."""
    from codecorpus.io import records as records_module

    real = records_module.NORMALISERS["licenses"]

    def fragile(raw):
        if raw["repo_name"] == "x/boom":
            raise OverflowError("cannot convert")
        return real(raw)

    monkeypatch.setitem(records_module.NORMALISERS, "licenses", fragile)
    path = tmp_path / "licenses.jsonl"
    path.write_text("".join(json.dumps({"repo_name": r, "license": "mit"}) + "\n" for r in ("a/b", "x/boom", "c/d")))
    records, dead, read = events_of(path, "licenses")
    assert [r["repo_name"] for r in records] == ["a/b", "c/d"]
    assert dead[0]["error"] == "invalid record: OverflowError: cannot convert" and dead[0]["key"] == "x/boom"


def test_utf8_bom_does_not_dead_letter_the_first_row(tmp_path):
    """15.9: files written by Windows tools start with a BOM; it is not part of the first row."""
    path = tmp_path / "commits.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"commit": "c1"}\r\n{"commit": "c2"}\r\n')
    records, dead, read = events_of(path, "commits")
    assert [r["commit"] for r in records] == ["c1", "c2"] and not dead


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
