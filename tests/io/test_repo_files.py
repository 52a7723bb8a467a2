"""Repository files with contents and licence, from a dump's `files` table or a plain folder."""

import gzip
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from codecorpus.config import default_config
from codecorpus.fim import render as fim_render
from codecorpus.io.repo_files import ReadRepositoryFiles
from codecorpus.io.sources import parse_inputs
from codecorpus.jobs.runner import make_local_runner
from codecorpus.core.routing import Ledger
from conftest import blob_sha


def only_sql(path):
    return None if path.endswith(".sql") else "not_sql"


def run_reader(input_spec, tmp_path):
    """Runs ReadRepositoryFiles and returns (records, counters, dead letters) via JSON files."""
    spec = parse_inputs([str(input_spec)])
    options = PipelineOptions([])
    out = tmp_path / "collected"
    out.mkdir(exist_ok=True)

    def dump_json(name):
        return lambda rows: (out / name).write_text(json.dumps(rows, sort_keys=True, default=str))

    with beam.Pipeline(runner=make_local_runner(options), options=options) as p:
        ledger = Ledger()
        records = p | ReadRepositoryFiles(spec, default_config(), ledger, keep_path=only_sql)
        _ = records | "AllRecords" >> beam.combiners.ToList() | "W1" >> beam.Map(dump_json("records.json"))
        _ = (tuple(ledger.stats) | "S" >> beam.Flatten() | beam.CombinePerKey(sum) | "L2" >> beam.combiners.ToList()
             | "W2" >> beam.Map(dump_json("stats.json")))
        _ = (tuple(ledger.dead_letters) | "D" >> beam.Flatten() | "L3" >> beam.combiners.ToList()
             | "W3" >> beam.Map(dump_json("dead.json")))
    load = lambda name: json.loads((out / name).read_text())  # noqa: E731
    return load("records.json"), dict(load("stats.json")), load("dead.json")


def write_ndjson(path, rows):
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))


def test_dump_files_join_contents_and_licences(tmp_path):
    schema_sql = "CREATE TABLE t (id INTEGER PRIMARY KEY);\n"
    files = [
        {"repo_name": "a/db", "ref": "refs/heads/main", "path": "schema.sql", "mode": 33188, "id": blob_sha(schema_sql)},
        {"repo_name": "a/db", "ref": "refs/heads/main", "path": "README.md", "mode": 33188, "id": blob_sha("hi")},
        {"repo_name": "a/db", "ref": "refs/heads/main", "path": "link.sql", "mode": 40960, "id": blob_sha("x"),
         "symlink_target": "schema.sql"},
        {"repo_name": "b/other", "ref": "refs/heads/main", "path": "lost.sql", "mode": 33188, "id": "f" * 40},
    ]
    dump = tmp_path / "dump"
    dump.mkdir()
    write_ndjson(dump / "files.jsonl.gz", files)
    write_ndjson(dump / "contents.jsonl.gz", [{"id": blob_sha(schema_sql), "size": len(schema_sql),
                                               "content": schema_sql, "binary": False}])
    write_ndjson(dump / "licenses.jsonl.gz", [{"repo_name": "a/db", "license": "mit"}])
    records, counters, dead = run_reader(dump, tmp_path)
    assert records == [{"repo_name": "a/db", "ref": "refs/heads/main", "path": "schema.sql", "mode": 33188,
                        "id": blob_sha(schema_sql), "size": len(schema_sql), "content": schema_sql,
                        "binary": False, "license": "mit"}]
    assert counters["read/files"] == 4
    assert counters["filter/path/not_sql"] == 1 and counters["filter/file_kind/symlink"] == 1
    assert counters["dead_letter/files/join_contents"] == 1 and "missing blob" in dead[0]["error"]
    assert counters["read/files"] == len(records) + 2 + len(dead)
    # One file key everywhere (joins, dead letters, FIM chunks): readable, and the same as fim's
    assert dead[0]["key"] == "b/other:refs/heads/main:lost.sql"
    assert fim_render.file_key({"repo": "b/other", "ref": "refs/heads/main", "path": "lost.sql"}) == dead[0]["key"]


def test_plain_folder_of_sql_files(tmp_path):
    folder = tmp_path / "schemas"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "a.sql").write_text("CREATE TABLE a (id INT);\n")
    (folder / "sub" / "b.sql").write_text("CREATE TABLE b (id INT);\n")
    (folder / "sub" / "notes.txt").write_text("hello")
    (folder / "sub" / "latin1.sql").write_bytes(b"-- caf\xe9\n")
    (folder / ".git" / "x.sql").write_text("ignored")
    (folder / "LICENSE").write_text("Permission is hereby granted, free of charge, to any person obtaining a copy")
    records, counters, dead = run_reader(folder, tmp_path)
    assert [r["path"] for r in sorted(records, key=lambda r: r["path"])] == ["a.sql", "sub/b.sql"]
    assert {r["repo_name"] for r in records} == {"local/schemas"} and {r["license"] for r in records} == {"mit"}
    assert counters["read/files"] == 5            # LICENSE, a.sql, b.sql, notes.txt, latin1.sql
    assert counters["filter/path/not_sql"] == 2
    assert len(dead) == 1 and "undecodable" in dead[0]["error"]


def test_plain_folder_never_reads_through_a_symlink(tmp_path):
    """14.6: a checkout with `leak.sql -> /etc/passwd` published /etc/passwd (tagged with the
    repository's licence), and a link to a folder crashed the job (IsADirectoryError)."""
    secret = tmp_path / "outside" / "secret.sql"
    secret.parent.mkdir()
    secret.write_text("-- password: hunter2\nCREATE TABLE s (id INT);\n")
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "a.sql").write_text("CREATE TABLE a (id INT);\n")
    (folder / "leak.sql").symlink_to(secret)                # a link out of the folder
    (folder / "etc").symlink_to(secret.parent, target_is_directory=True)   # a link to a folder
    (folder / "same.sql").symlink_to("a.sql")               # even a link inside the folder
    (folder / "dangling.sql").symlink_to(tmp_path / "nowhere.sql")
    (folder / "LICENSE").symlink_to(tmp_path / "outside" / "secret.sql")  # licence text is not followed either
    records, counters, dead = run_reader(folder, tmp_path)
    assert [r["path"] for r in records] == ["a.sql"] and not dead
    assert records[0]["license"] is None
    assert counters["filter/file_kind/symlink"] == 5
    assert counters["read/files"] == len(records) + 5
    assert not any("hunter2" in (r["content"] or "") for r in records)


def test_plain_folder_skips_fifos(tmp_path):
    import os

    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "a.sql").write_text("CREATE TABLE a (id INT);\n")
    os.mkfifo(folder / "pipe.sql")  # opening it would block the worker forever
    records, counters, dead = run_reader(folder, tmp_path)
    assert [r["path"] for r in records] == ["a.sql"]
    assert counters["filter/file_kind/special"] == 1 and counters["read/files"] == 2


def test_relative_inputs_are_resolved_on_the_launcher(tmp_path, monkeypatch):
    """14.3: a relative folder or dump was resolved on the worker, against its own directory
    (`git:` paths are made absolute by ``check_repository``)."""
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse_inputs(["src"]).paths == (str(tmp_path / "src"),)
    assert parse_inputs(["./src/"]).paths == (str(tmp_path / "src"),)
    assert parse_inputs(["gs://bucket/dump"]).paths == ("gs://bucket/dump",)
