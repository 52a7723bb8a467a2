"""Bounded work in the sql job (issue 14 item 11, issue 15 item 7): hostile-statement detection and
statement splitting in linear time, a time budget per database, DuckDB's memory limit on builds, a
cap on tables per file, table names quoted; each limit counted when it is hit."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter

import pytest

from codecorpus.config import load_config
from codecorpus.sql import database, sandbox
from codecorpus.sql.schema import NotRunnable
from codecorpus.sql.statements import Statement, detect_dialect, hostile_kinds, split_statements, statement_kind


def hostile(text: str) -> list:
    return hostile_kinds(Statement(text, statement_kind(text), 1))


def seconds(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def counters_of(events) -> Counter:
    out = Counter()
    for e in events:
        if hasattr(e, "counter"):
            out[e.counter] += getattr(e, "value", 1)
    return out


def test_copy_to_file_detection_is_linear():
    # 210 KB of COPY words took 77 s with ``COPY\s+[^;]*\bTO\s+'`` (it rescans to the next ';' from each)
    text = "SELECT 1 FROM t WHERE " + "COPY " * 42_000
    assert seconds(hostile, text) < 2.0
    assert hostile("COPY t TO '/tmp/out.csv'") == ["file_access"]
    assert hostile("COPY (SELECT * FROM t) TO '/tmp/out.csv' WITH CSV") == ["file_access"]
    assert hostile("COPY t FROM stdin") == []
    assert hostile("SELECT 'COPY me'; SELECT x AS TO_DATE FROM t") == []


def test_blank_line_runs_are_linear():
    # a leading ``^\s*`` under re.M rescans a run of blank lines from every line start in it:
    # 20,000 blank lines took 20 s in detect_dialect and grew with the square
    text = "SELECT 1;" + "\n" * 200_000 + "SELECT 2"
    assert seconds(detect_dialect, "x.sql", text) < 2.0
    statements = split_statements(text, "generic")
    assert seconds(lambda: [hostile_kinds(st) for st in statements]) < 2.0
    assert detect_dialect("x.sql", "CREATE TABLE t (id int)\nGO\nCREATE TABLE u (id int)\nGO\n") == "tsql"
    assert hostile("SELECT 1\n  .shell rm -rf /") == ["shell"]


def test_routine_bodies_after_a_long_comment_split_in_linear_time():
    # the routine test re-read the statement's head at each ';' of a PL/SQL body
    text = "/*" + "x" * 100_000 + "*/\nCREATE PROCEDURE p AS BEGIN\n" + "x := 1;\n" * 20_000 + "END;\n/\nSELECT 1 FROM dual;\n"
    started = time.perf_counter()
    statements = split_statements(text, "oracle")
    assert time.perf_counter() - started < 2.0
    assert [st.kind for st in statements] == ["create_routine", "query"]


def test_mysql_delimiter_regions_count_lines_in_linear_time():
    text = "DELIMITER $$\n" + "SELECT 1$$\n" * 40_000
    started = time.perf_counter()
    statements = split_statements(text, "mysql")
    assert time.perf_counter() - started < 3.0
    assert len(statements) == 40_000 and statements[0].line == 2 and statements[-1].line == 40_001


def test_vacuum_into_is_hostile():
    assert hostile("VACUUM INTO '/tmp/copy.db'") == ["file_access"]
    assert hostile("vacuum main into '/tmp/copy.db'") == ["file_access"]
    assert hostile("VACUUM") == []


SHOP = """
CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL);
INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30), (4, 'd', 40), (5, 'e', 50), (6, 'f', 60);
"""
RUNAWAY = "SELECT COUNT(*) FROM t a, t b, t c, t d, t e, t f, t g, t h, t i, t j, t k WHERE a.n > {i}"


def job_of(text: str, dialect: str = "sqlite", queries: list = ()) -> dict:
    statements = split_statements(text, dialect)
    return {"repo_name": "local/test", "path": "t.sql", "dialect": dialect, "license": "mit",
            "ddl": [st for st in statements if st.kind in database.DDL_KINDS], "batches": [],
            "queries": list(queries), "borrowed": []}


def test_runaway_queries_share_one_time_budget_per_database():
    # 50 runaway queries took 50 x the per-query limit; the budget bounds them together
    cfg = load_config()["sql"]
    cfg["engines"] = ["sqlite"]
    cfg["sandbox"]["timeout_seconds"] = 0.5
    cfg["sandbox"]["file_budget_seconds"] = 1.2  # the third runaway query meets the budget, not its timeout
    cfg["queries"]["max_candidates"] = 0
    cfg["test_suite"]["size"] = 0
    runaway = [Statement(RUNAWAY.format(i=i), "query", i + 1) for i in range(20)]
    events = list(database.process_database(job_of(SHOP, queries=runaway), cfg))
    counters = counters_of(events)  # counters, not wall time: a loaded machine must not fail this
    assert counters["sql/limits/time_budget"] == 1
    assert counters["filter/sql_check/time_budget"] >= 1
    assert counters["filter/sql_check/timeout"] + counters["filter/sql_check/time_budget"] <= 4  # 1.2 s / 0.5 s + 1
    triples = [e for e in events if isinstance(e, database.TableRow) and e.table == "sql_triples"]
    rejected = sum(v for k, v in counters.items() if k.startswith("filter/sql_check/"))
    assert counters["sql/candidates"] == len(triples) + rejected
    assert counters["sql/candidates"] < 20            # the rest were never tried


def test_budget_caps_a_query_past_its_own_timeout(tmp_path):
    path = str(tmp_path / "db.sqlite")
    sandbox.build_sqlite(path, ["CREATE TABLE t (n INTEGER)"], ["INSERT INTO t VALUES (1), (2), (3)"])
    budget = sandbox.Budget(0.3)
    box = sandbox.SQLiteSandbox(path, sandbox.Limits(timeout_seconds=5.0), budget)
    started = time.perf_counter()
    outcome = box.run("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r")
    assert time.perf_counter() - started < 2.0
    assert outcome.status == "over_budget" and budget.exhausted()
    assert box.run("SELECT 1").status == "over_budget"
    box.close()


def test_duckdb_builds_have_a_memory_limit():
    # without one, a file of 10,000 small tables reached 20.7 GB building DuckDB
    ddl = [f'CREATE TABLE "t{i}" ("id" INTEGER NOT NULL, "v" TEXT, PRIMARY KEY ("id"))' for i in range(300)]
    inserts = [f"INSERT INTO \"t{i}\" (\"id\", \"v\") VALUES\n(1, 'a'),\n(2, 'b')" for i in range(300)]
    with pytest.raises(sandbox.OverMemoryLimit, match="OutOfMemory"):
        sandbox.build_duckdb(":memory:", ddl, inserts, memory_limit="16MB")
    sandbox.build_duckdb(":memory:", ddl[:3], inserts[:3], memory_limit="256MB")


def test_a_build_over_the_memory_limit_is_counted_and_dead_lettered():
    cfg = load_config()["sql"]
    cfg["sandbox"]["duckdb_memory_limit"] = "16MB"
    text = "\n".join(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO t{i} VALUES (1, 'a');"
                     for i in range(300))
    events = list(database.process_database(job_of(text, queries=[]) | {
        "batches": [b for b in database.collect_batches(split_statements(text, "sqlite"), "sqlite", 10, Counter())]},
        cfg))
    counters = counters_of(events)
    assert counters["sql/limits/duckdb_memory_limit"] == 1 and counters["sql/not_runnable/sqlite"] == 1
    assert not any(isinstance(e, database.TableRow) for e in events)


def test_tables_per_file_are_capped():
    cfg = load_config()["sql"]
    cfg["max_tables"] = 5
    text = "\n".join(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY);" for i in range(12)) + "\nSELECT 1;\n"
    record = {"repo_name": "local/test", "path": "many.sql", "content": text, "license": "mit"}
    events = list(database.parse_file(record, cfg))
    counters = counters_of(events)
    parsed = [e for e in events if isinstance(e, dict)]
    assert counters["sql/limits/max_tables"] == 1 and counters["sql/limits/max_tables/tables_left_out"] == 7
    assert [st.text for st in parsed[0]["ddl"]] == [f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY)" for i in range(5)]
    cfg["max_tables"] = 12
    assert counters_of(database.parse_file(record, cfg))["sql/limits/max_tables"] == 0


def test_table_names_are_quoted_in_row_counts(tmp_path):
    path = str(tmp_path / "db.sqlite")
    name = 'we"ird'
    sandbox.build_sqlite(path, ['CREATE TABLE "we""ird" (n INTEGER)'], ['INSERT INTO "we""ird" VALUES (1), (2)'])
    assert sandbox.table_counts_sqlite(path, [name]) == {name: 2}
    conn = sqlite3.connect(path)
    assert conn.execute('SELECT COUNT(*) FROM "we""ird"').fetchone() == (2,)
    conn.close()


def test_a_file_with_an_odd_table_name_still_builds():
    cfg = load_config()["sql"]
    text = 'CREATE TABLE "od""d" (id INTEGER PRIMARY KEY, v TEXT);\nINSERT INTO "od""d" VALUES (1, \'a\'), (2, \'b\');\n'
    events = list(database.process_database(job_of(text) | {
        "batches": database.collect_batches(split_statements(text, "sqlite"), "sqlite", 10, Counter())}, cfg))
    dbs = [e.row for e in events if isinstance(e, database.TableRow) and e.table == "sql_databases"]
    assert len(dbs) == 1 and dbs[0]["rows"] == 2


def test_no_sql_files_is_a_warning():
    assert database.no_sql_files({"read/files": 3, "filter/path/not_sql": 3}) is not None
    assert database.no_sql_files({"read/files": 3, "sql/sql_files": 1}) is None
    cfg = load_config()["sql"]
    record = {"repo_name": "local/test", "path": "a.sql", "content": "SELECT 1;", "license": None}
    assert counters_of(database.parse_file(record, cfg))["sql/sql_files"] == 1


def test_not_runnable_is_the_base_of_over_memory():
    assert issubclass(sandbox.OverMemoryLimit, NotRunnable)
