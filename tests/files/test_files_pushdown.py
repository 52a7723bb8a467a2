"""The ``files``/``sql`` jobs' BigQuery SQL selects exactly the files the in-pipeline filters keep.

As for the commit push-down (``tests/commits/test_pushdown_sql.py``): each query is parsed as
BigQuery Standard SQL with sqlglot, transpiled to DuckDB and run over the sample dump; the result
is compared with the pipeline's own functions (``file_kind_drop``, the licence answer, the blob
join, the ``licence``/``binary``/``size`` filters) applied to the same rows.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import sqlglot

from codecorpus.config import default_config
from codecorpus.core.filters import build_chain
from codecorpus.core.routing import DeadLetter
from codecorpus.files import pushdown
from codecorpus.files.filters import FILE_FILTERS
from codecorpus.io.records import normalise
from codecorpus.io.repo_files import file_kind_drop
from codecorpus.sql.database import SQL_SUFFIXES, sql_keep_path

from conftest import built_pipeline  # noqa: E402

COLUMNS = {
    "files": {"repo_name": "VARCHAR", "ref": "VARCHAR", "path": "VARCHAR", "mode": "BIGINT", "id": "VARCHAR",
              "symlink_target": "VARCHAR"},
    "contents": {"id": "VARCHAR", "size": "BIGINT", "content": "VARCHAR", "binary": "BOOLEAN", "copies": "BIGINT"},
    "licenses": {"repo_name": "VARCHAR", "license": "VARCHAR"},
}


def write_table(folder: Path, table: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{table}.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))


def read_rows(folder: Path, table: str) -> list[dict]:
    with gzip.open(folder / f"{table}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def connect(folder: Path):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS proj")
    con.execute("CREATE SCHEMA proj.github_repos")
    for table, columns in COLUMNS.items():
        spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
        path = str(folder / f"{table}.jsonl.gz").replace("'", "''")
        con.execute(f"CREATE TABLE proj.github_repos.{table} AS SELECT * FROM read_json('{path}', "
                    f"format = 'newline_delimited', columns = {spec})")
    return con


def run_sql(con, sql: str) -> list[dict]:
    sqlglot.parse_one(sql, read="bigquery")  # raises on anything BigQuery's grammar rejects
    [duck] = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    # sqlglot writes BigQuery's BYTE_LENGTH(string) as OCTET_LENGTH, which DuckDB has for BLOBs
    # only; STRLEN is DuckDB's byte length of a VARCHAR.
    duck = duck.replace("OCTET_LENGTH(", "STRLEN(")
    cursor = con.execute(duck)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def python_selection(folder: Path, config: dict, keep_path=None, with_filters: bool = True) -> set:
    """(repo, path) of the files the pipeline's own steps keep, up to the pushed-down filters."""
    licences: dict = {}
    for row in read_rows(folder, "licenses"):
        licences.setdefault(row["repo_name"], set()).add(row["license"])
    blobs: dict = {}
    for row in read_rows(folder, "contents"):
        blob = normalise("contents", row)
        blobs.setdefault(blob["id"], []).append(blob)
    section = config["files"]["filters"]
    licence_chain = build_chain(FILE_FILTERS, {n: section[n] for n in ("licence",) if n in section})
    blob_chain = build_chain(FILE_FILTERS, {n: section[n] for n in ("binary", "size") if n in section})
    kept = set()
    for raw in read_rows(folder, "files"):
        record = normalise("files", raw)
        events = file_kind_drop(record, keep_path)
        if events != [record] and not isinstance(events[0], DeadLetter):
            continue  # a counted drop: link, submodule, path
        answers = sorted(lic for lic in licences.get(record["repo_name"], ()) if lic is not None)
        record = {**record, "license": answers[0] if answers else None}
        if with_filters and licence_chain.first_drop(record) is not None:
            continue
        found = blobs.get(record.get("id"), [])
        if with_filters and found:  # a missing blob is the pipeline's dead letter: still read
            blob = max(found, key=lambda b: b.get("content") is not None)
            if blob_chain.first_drop({**record, "content": blob.get("content"), "binary": bool(blob.get("binary")),
                                      "size": blob.get("size")}) is not None:
                continue
        kept.add((record["repo_name"], record["path"]))
    return kept


@pytest.fixture
def sample(shared_sample):
    return shared_sample


def test_files_job_sql_selects_exactly_the_files_the_filters_keep(sample):
    config = default_config()
    con = connect(sample)
    rows = run_sql(con, pushdown.files_query("proj.github_repos", config))
    selected = {(r["repo_name"], r["path"]) for r in rows}
    expected = python_selection(sample, config)
    assert selected == expected
    total = len(read_rows(sample, "files"))
    assert 0 < len(selected) < total  # the push-down leaves something out, and keeps something
    blobs = run_sql(con, pushdown.contents_query("proj.github_repos", config))
    present = {b["id"] for b in read_rows(sample, "contents")}
    assert {b["id"] for b in blobs} == {r["id"] for r in rows} & present and len(blobs) == len({b["id"] for b in blobs})


def test_sql_job_sql_selects_exactly_the_sql_files(sample):
    con = connect(sample)
    rows = run_sql(con, pushdown.files_query("proj.github_repos", default_config(), SQL_SUFFIXES, with_filters=False))
    selected = {(r["repo_name"], r["path"]) for r in rows}
    assert selected == python_selection(sample, default_config(), sql_keep_path, with_filters=False)
    assert selected and all(path.lower().endswith(".sql") for _repo, path in selected)


@pytest.mark.parametrize("change", ["no_licence", "small", "no_binary_no_size"])
def test_the_sql_follows_the_config(tmp_path, change):
    """Hand-made edge cases: links, submodules, upper-case suffixes, binary, empty, large and
    text-less blobs, repositories with no, several or a disallowed licence, multibyte text."""
    files = [{"repo_name": repo, "ref": "refs/heads/main", "path": path, "mode": mode, "id": blob,
              "symlink_target": target}
             for repo, path, mode, blob, target in [
                 ("a/x", "ok.py", 33188, "b1", None), ("a/x", "link.py", 40960, "b1", None),
                 ("a/x", "target.py", 33188, "b1", "ok.py"), ("a/x", "sub", 57344, "c1", None),
                 ("a/x", "bin.png", 33188, "b2", None), ("a/x", "empty.py", 33188, "b3", None),
                 ("a/x", "big.py", 33188, "b4", None), ("a/x", "none.py", 33188, "b5", None),
                 ("a/x", "utf.py", 33188, "b6", None), ("a/x", "gone.py", 33188, "zz", None),
                 ("b/gpl", "ok.py", 33188, "b1", None), ("c/none", "ok.py", 33188, "b1", None),
                 ("d/two", "ok.py", 33188, "b1", None), ("e/mixed", "ok.py", 33188, "b1", None),
                 ("a/x", "just_over.py", 33188, "b7", None), ("a/x", "Q.SQL", 33188, "b1", None)]]
    contents = [{"id": "b1", "size": 8, "content": "x = 1\n", "binary": False, "copies": 1},
                {"id": "b2", "size": 4, "content": None, "binary": True, "copies": 1},
                {"id": "b3", "size": 0, "content": "", "binary": False, "copies": 1},
                {"id": "b4", "size": 90, "content": "y" * 90, "binary": False, "copies": 1},
                {"id": "b5", "size": 5, "content": None, "binary": False, "copies": 1},
                {"id": "b6", "size": 5, "content": "é" * 30, "binary": False, "copies": 1},
                {"id": "b7", "size": 61, "content": "z" * 61, "binary": False, "copies": 1}]
    licenses = [{"repo_name": "a/x", "license": "mit"}, {"repo_name": "b/gpl", "license": "gpl-3.0"},
                {"repo_name": "c/none", "license": None}, {"repo_name": "d/two", "license": "mit"},
                {"repo_name": "d/two", "license": "apache-2.0"}, {"repo_name": "e/mixed", "license": "gpl-3.0"},
                {"repo_name": "e/mixed", "license": "apache-2.0"}]
    for table, rows in (("files", files), ("contents", contents), ("licenses", licenses)):
        write_table(tmp_path, table, rows)
    config = default_config()
    section = config["files"]["filters"]
    if change == "no_licence":
        section["licence"]["enabled"] = False
    elif change == "small":
        section["size"]["max_bytes"] = 60  # 30 × "é" is 60 bytes (30 characters): kept; 61 "z" are not
    else:
        section["binary"]["enabled"] = section["size"]["enabled"] = False
    con = connect(tmp_path)
    selected = {(r["repo_name"], r["path"]) for r in run_sql(con, pushdown.files_query("proj.github_repos", config))}
    assert selected == python_selection(tmp_path, config)
    assert ("a/x", "link.py") not in selected and ("a/x", "sub") not in selected
    assert ("a/x", "gone.py") in selected  # its blob is missing: read, and dead-lettered downstream
    if change == "small":
        assert ("a/x", "utf.py") in selected and ("a/x", "just_over.py") not in selected
    if change != "no_licence":  # the smallest licence is the repository's (attach_licence)
        assert ("e/mixed", "ok.py") in selected and ("b/gpl", "ok.py") not in selected
    sql_files = run_sql(con, pushdown.files_query("proj.github_repos", config, (".sql",), with_filters=False))
    assert {(r["repo_name"], r["path"]) for r in sql_files} == {("a/x", "Q.SQL")}


@pytest.mark.parametrize("job,suffixes,with_filters", [("files", None, True), ("sql", SQL_SUFFIXES, False)])
def test_bq_inputs_send_this_sql(job, suffixes, with_filters, tmp_path, monkeypatch):
    """``files``/``sql`` on ``bq:`` build a pipeline whose queries are exactly these (built, not run:
    BigQuery cannot be reached from the tests)."""
    import apache_beam as beam
    from apache_beam.pipeline import PipelineVisitor

    config_path = tmp_path / "bq.yaml"
    config_path.write_text("bigquery:\n  method: client\n")
    pipeline = built_pipeline(job, ["--input", "bq:public", "--config", config_path,
                                    "--output", tmp_path / "o", "--quiet"], monkeypatch)

    class Queries(PipelineVisitor):
        def __init__(self):
            self.sql = []

        def enter_composite_transform(self, node):  # beam.Create is a composite
            if isinstance(node.transform, beam.Create) and "QueryBigQuery" in node.full_label:
                self.sql.extend(node.transform.values)

    visitor = Queries()
    pipeline.visit(visitor)
    config = default_config()
    expected = {fn("bigquery-public-data.github_repos", config)
                for fn in pushdown.queries(suffixes, with_filters).values()}
    assert set(visitor.sql) == expected and len(visitor.sql) == 3
