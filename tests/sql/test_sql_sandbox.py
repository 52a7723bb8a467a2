"""The execution sandbox: read-only, ATTACH / PRAGMA / writes / extensions denied, runaway queries
stopped at the deadline in both engines, results compared as Spider's test suite does."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from codecorpus.sql import sandbox

DDL = ['CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DECIMAL(6,2), day DATE, ok BOOLEAN)']
INSERTS = ["INSERT INTO t (id, name, price, day, ok) VALUES " + ", ".join(
    f"({i}, 'n{i}', {i % 7}.25, '2024-01-{1 + i % 28:02d}', {'TRUE' if i % 2 else 'FALSE'})" for i in range(1, 201))]
LIMITS = sandbox.Limits(timeout_seconds=0.4, max_result_rows=500)
BOMBS = {
    "recursive_cte": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
    "cross_join": "SELECT COUNT(*) FROM t a, t b, t c, t d, t e",
}


@pytest.fixture(scope="module")
def boxes(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    sandbox.build_sqlite(str(root / "db.sqlite"), DDL, INSERTS)
    sandbox.build_duckdb(str(root / "db.duckdb"), DDL, INSERTS)
    sqlite_box = sandbox.SQLiteSandbox(str(root / "db.sqlite"), LIMITS)
    duckdb_box = sandbox.DuckDBSandbox(str(root / "db.duckdb"), LIMITS)
    yield sqlite_box, duckdb_box, root
    sqlite_box.close()
    duckdb_box.close()


def test_both_engines_return_the_same_canonical_rows(boxes):
    sqlite_box, duckdb_box, _ = boxes
    sql = "SELECT name, price, day, ok FROM t WHERE id <= 3 ORDER BY id"
    a, b = sqlite_box.run(sql), duckdb_box.run(sql)
    assert a.status == b.status == "ok"
    assert a.rows == b.rows == [("n1", 1.25, "2024-01-02", 1), ("n2", 2.25, "2024-01-03", 0),
                                ("n3", 3.25, "2024-01-04", 1)]
    agg = "SELECT SUM(price), AVG(price), COUNT(*) FROM t"
    assert sqlite_box.run(agg).rows == duckdb_box.run(agg).rows


@pytest.mark.parametrize("sql", [
    "ATTACH DATABASE '/tmp/codecorpus-sandbox-evil.db' AS evil",
    "PRAGMA writable_schema = 1",
    "SELECT * FROM pragma_table_info('t')",
    "DELETE FROM t",
    "UPDATE t SET name = 'x'",
    "INSERT INTO t (id, name) VALUES (999, 'x')",
    "DROP TABLE t",
    "CREATE TABLE u (a INT)",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT random()",
])
def test_sqlite_denies_everything_but_reading(boxes, sql):
    sqlite_box, _, root = boxes
    outcome = sqlite_box.run(sql)
    assert outcome.status == "denied", outcome
    assert sqlite_box.run("SELECT COUNT(*) FROM t").rows == [(200,)]  # nothing changed
    assert not (root / "codecorpus-sandbox-evil.db").exists()


def test_sqlite_rejects_several_statements(boxes):
    sqlite_box, _, _ = boxes
    assert sqlite_box.run("SELECT 1; DROP TABLE t").status == "not_select"
    assert sqlite_box.run("SELECT COUNT(*) FROM t").rows == [(200,)]


@pytest.mark.parametrize("sql", [
    "ATTACH '/tmp/codecorpus-sandbox-evil.duckdb' AS evil",
    "PRAGMA version",
    "DELETE FROM t",
    "SET memory_limit = '64GB'",
    "COPY t TO '/tmp/codecorpus-sandbox-out.csv'",
    "SELECT 1; DROP TABLE t",
])
def test_duckdb_runs_only_one_select(boxes, sql):
    _, duckdb_box, _ = boxes
    assert duckdb_box.run(sql).status == "not_select"


@pytest.mark.parametrize("sql", ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')"])
def test_duckdb_has_no_file_access(boxes, sql):
    _, duckdb_box, _ = boxes
    assert duckdb_box.run(sql).status == "denied"


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_runaway_queries_stop_at_the_deadline(boxes, kind):
    sqlite_box, duckdb_box, _ = boxes
    for box in (sqlite_box, duckdb_box):
        started = time.monotonic()
        outcome = box.run(BOMBS[kind])
        elapsed = time.monotonic() - started
        assert outcome.status == "timeout", (type(box).__name__, outcome)
        assert elapsed < LIMITS.timeout_seconds + 1.0
        assert box.run("SELECT COUNT(*) FROM t").rows == [(200,)]  # the connection is usable afterwards


def test_huge_results_are_cut_not_materialised(boxes):
    sqlite_box, duckdb_box, _ = boxes
    sql = "SELECT a.id, b.id FROM t a, t b"  # 40,000 rows
    assert sqlite_box.run(sql).status == duckdb_box.run(sql).status == "too_many_rows"


def test_sqlite_caps_value_sizes(tmp_path):
    sandbox.build_sqlite(str(tmp_path / "db.sqlite"), DDL, INSERTS)
    box = sandbox.SQLiteSandbox(str(tmp_path / "db.sqlite"), sandbox.Limits(max_value_bytes=10_000))
    try:
        assert box.run("SELECT zeroblob(1000000)").status == "error"
        assert box.run("SELECT zeroblob(1000)").status == "ok"
    finally:
        box.close()


def test_explain(boxes):
    sqlite_box, duckdb_box, _ = boxes
    assert sqlite_box.explain("SELECT name FROM t") is None
    assert sqlite_box.explain("SELECT nope FROM t").startswith("error")
    assert duckdb_box.explain("SELECT name FROM t") is None
    assert duckdb_box.explain("SELECT nope FROM t").startswith("error")


def test_canonical_values():
    assert sandbox.canonical_row((True, Decimal("2.50"), 2.5000000001, 1.0, dt.datetime(2024, 1, 2, 3, 4, 5),
                                  dt.date(2024, 1, 2), b"\x01", None)) == (
        1, 2.5, 2.5, 1, "2024-01-02 03:04:05", "2024-01-02", "0x01", None)
    assert sandbox.canonical_value(0.1 + 0.2) == sandbox.canonical_value(Decimal("0.3"))


def test_result_comparison_is_a_multiset_unless_ordered():
    a = [(1, "x"), (2, "y"), (2, "y")]
    assert sandbox.results_equal(a, list(reversed(a)), ordered=False)
    assert not sandbox.results_equal(a, list(reversed(a)), ordered=True)
    assert not sandbox.results_equal(a, [(1, "x"), (2, "y")], ordered=False)  # multiplicity counts
    assert sandbox.results_equal([(None, 1), (2, None)], [(2, None), (None, 1)], ordered=False)
    assert sandbox.result_hash(a, False) == sandbox.result_hash(list(reversed(a)), False)
    assert sandbox.result_hash(a, False) != sandbox.result_hash(a, True)


def test_result_key_allows_a_column_permutation():
    a = [(1, "x", 3.5), (2, "y", 4.5)]
    permuted = [(r[2], r[0], r[1]) for r in a]
    assert sandbox.result_key(a, False) == sandbox.result_key(permuted, False)
    assert sandbox.result_key(a, False) != sandbox.result_key([(1, "x", 3.5), (2, "z", 4.5)], False)
    swapped = [(1, 2), (2, 1)]
    assert sandbox.result_key(swapped, False) == sandbox.result_key([(2, 1), (1, 2)], False)
    assert sandbox.result_key([(1, 2), (3, 4)], False) != sandbox.result_key([(1, 4), (3, 2)], False)


def test_a_float_sum_and_an_exact_decimal_hash_alike():
    # SQLite sums REAL money to 58.99999999999999; DuckDB sums DECIMAL(10,2) to exactly 59.00.
    # The engines agree, so the written result_hash must not depend on which one ran.
    assert sandbox.canonical_value(58.99999999999999) == 59
    assert isinstance(sandbox.canonical_value(58.99999999999999), int)
    assert sandbox.canonical_value(Decimal("19.820")) == 19.82
    sqlite_rows = [sandbox.canonical_row(("Ramos", 58.99999999999999))]
    duckdb_rows = [sandbox.canonical_row(("Ramos", Decimal("59.00")))]
    assert sandbox.result_hash(sqlite_rows, False) == sandbox.result_hash(duckdb_rows, False)
