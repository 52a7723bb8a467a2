"""Rows for a schema: INSERT / COPY data read as literals, fitted to column types, synthetic rows
that respect keys, NOT NULL and foreign keys, and INSERT statements that rebuild the database."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from decimal import Decimal

import duckdb
import pytest

from codecorpus.sql import ddl, sandbox
from codecorpus.sql.inserts import (BadValue, Batch, UnsupportedInsert, coerce, collect_batches, literal, read_copy,
                                    read_insert, render_inserts)
from codecorpus.sql.rows import _waves, assemble
from codecorpus.sql.schema import Column, ForeignKey, Table, finalise_schema, render_ddl
from codecorpus.sql.statements import Statement, split_statements


def read(text: str, dialect: str = "generic") -> Batch:
    st = split_statements(text, dialect)[0]
    return read_copy(st) if st.kind == "copy" else read_insert(st, dialect)


def test_literals_in_every_dialect():
    assert read("INSERT INTO `t` (`a`, `b`) VALUES (1, 'O\\'Neil'), (-2.5, \"dq\")", "mysql").rows == [
        (1, "O'Neil"), (Decimal("-2.5"), "dq")]
    batch = read("INSERT INTO [dbo].[T] ([A], [B]) VALUES (1, N'Straße'), (2, NULL)", "tsql")
    assert (batch.table, batch.columns, batch.rows) == ("T", ("A", "B"), [(1, "Straße"), (2, None)])
    assert read("INSERT [dbo].[T] ([A]) VALUES (CAST(N'2019-03-01T00:00:00.000' AS DateTime2))", "tsql").rows == [
        ("2019-03-01T00:00:00.000",)]
    assert read("INSERT INTO t VALUES (TO_DATE('2021-1-1 00:00:00','yyyy-mm-dd hh24:mi:ss'), "
                "'AC'||chr(38)||'DC')", "oracle").rows == [("2021-1-1 00:00:00", "AC&DC")]
    assert read("INSERT INTO t VALUES ('x'::text, 'G'::public.mpaa_rating, TRUE, X'DEAD', E'a\\tb')",
                "postgres").rows == [("x", "G", True, b"\xde\xad", "a\tb")]
    assert read("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "postgres").rows == [(1,)]


def test_copy_blocks():
    text = "COPY public.t (a, b) FROM stdin;\n1\tTab\\there\n2\t\\N\n\\.\n"
    batch = read(text, "postgres")
    assert (batch.table, batch.columns, batch.rows) == ("t", ("a", "b"), [("1", "Tab\there"), ("2", None)])


@pytest.mark.parametrize("text, reason", [
    ("INSERT INTO t SELECT * FROM u", "insert_select_or_set"),
    ("INSERT INTO t VALUES (now())", "function_value"),
    ("INSERT INTO t VALUES (1 + 2)", "unreadable_value"),
])
def test_unsupported_values_are_named(text, reason):
    with pytest.raises(UnsupportedInsert, match=reason):
        read(text)


def test_collect_caps_rows_per_table_and_counts():
    statements = split_statements("INSERT INTO t VALUES (1), (2), (3);\nINSERT INTO t VALUES (4);\n"
                                  "INSERT INTO t SELECT 5;", "generic")
    counts = Counter()
    batches = collect_batches(statements, "generic", 2, counts)
    assert [b.rows for b in batches] == [[(1,), (2,)]]
    assert counts["rows/over_cap"] == 2 and counts["inserts/unsupported/insert_select_or_set"] == 1


@pytest.mark.parametrize("family, value, expected", [
    ("integer", Decimal("3"), 3), ("integer", "42", 42), ("real", Decimal("0.1"), 0.1),
    ("boolean", "t", True), ("boolean", 0, False),
    ("date", "2021/1/2", "2021-01-02"), ("date", "1962-02-18 00:00:00", "1962-02-18"), ("date", "20240131", "2024-01-31"),
    ("timestamp", "2021-1-1", "2021-01-01 00:00:00"), ("timestamp", "2022-01-01 10:00:00+01", "2022-01-01 10:00:00"),
    ("timestamp", "2019-03-01T09:30:00.1234567", "2019-03-01 09:30:00.123456"), ("time", "9:05", "09:05:00"),
    ("text", 171, "171"), ("blob", "ab", b"ab"),
])
def test_coerce(family, value, expected):
    assert coerce(value, Column("c", family)) == expected


def test_coerce_rejects_what_does_not_fit():
    for family, value in (("integer", "1.5"), ("date", "yesterday"), ("boolean", "maybe"), ("text", "a\x00b"),
                          ("integer", 2**70)):
        with pytest.raises(BadValue):
            coerce(value, Column("c", family))
    with pytest.raises(BadValue):
        coerce(Decimal("123456.789"), Column("c", "decimal", precision=5, scale=2))
    assert coerce(Decimal("1.005"), Column("c", "decimal", precision=5, scale=2)) == Decimal("1.00")
    with pytest.raises(BadValue):
        coerce("gold", Column("c", "text", enum=("free", "pro")))
    col = Column("c", "integer")
    coerce(2**40, col)
    assert col.big  # the column becomes BIGINT in DuckDB


SCHEMA = """
CREATE TABLE country (code CHAR(2) PRIMARY KEY, name VARCHAR(40) NOT NULL UNIQUE);
CREATE TABLE customer (
  customer_id INTEGER PRIMARY KEY AUTOINCREMENT,
  first_name VARCHAR(20) NOT NULL, last_name VARCHAR(20) NOT NULL,
  email VARCHAR(60) NOT NULL UNIQUE,
  country CHAR(2) REFERENCES country(code),
  referred_by INTEGER REFERENCES customer(customer_id),
  birth_date DATE, signed_up TIMESTAMP NOT NULL, active BOOLEAN NOT NULL,
  tier VARCHAR(10) CHECK (tier IN ('a', 'b'))
);
CREATE TABLE product (sku VARCHAR(12) PRIMARY KEY, title TEXT NOT NULL, price DECIMAL(8,2) NOT NULL, stock SMALLINT);
CREATE TABLE purchase (
  customer_id INTEGER NOT NULL REFERENCES customer(customer_id),
  sku VARCHAR(12) NOT NULL REFERENCES product(sku),
  quantity INTEGER NOT NULL,
  PRIMARY KEY (customer_id, sku)
);
"""


def build(rows_text: str = "", synthetic_rows: int = 40, seed: int = 0):
    statements = split_statements(SCHEMA + rows_text, "sqlite")
    schema = finalise_schema(ddl.parse_schema(statements, "sqlite"))
    counts = Counter()
    batches = collect_batches(statements, "sqlite", 1000, counts)
    tables = assemble(schema, batches, seed, "hash", synthetic_rows, 1000, counts)
    return schema, tables, counts


def test_synthetic_rows_respect_keys_not_null_and_foreign_keys(tmp_path):
    schema, tables, _ = build()
    by_name = {t.table.name: t for t in tables}
    assert all(len(t.rows) > 10 for t in tables)
    inserts = render_inserts(tables)
    path = tmp_path / "db.sqlite"
    sandbox.build_sqlite(str(path), render_ddl(schema, "sqlite"), inserts)  # FKs enforced while loading
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for table in schema.tables.values():
        for col in table.columns:
            if col.not_null:
                assert conn.execute(f'SELECT COUNT(*) FROM "{table.name}" WHERE "{col.name}" IS NULL').fetchone() == (0,)
    emails = [r[0] for r in conn.execute("SELECT email FROM customer")]
    assert len(emails) == len(set(emails)) and all("@example.com" in e for e in emails)
    assert all(len(r[0]) <= 12 for r in conn.execute("SELECT sku FROM product"))
    assert {r[0] for r in conn.execute("SELECT DISTINCT tier FROM customer WHERE tier IS NOT NULL")} <= {"a", "b"}
    assert len(by_name["customer"].waves) > 1  # referred_by points at earlier rows
    born = [dt.date.fromisoformat(r[0]) for r in conn.execute("SELECT birth_date FROM customer WHERE birth_date IS NOT NULL")]
    assert all(1950 <= d.year <= 2005 for d in born)
    conn.close()
    duck_path = tmp_path / "db.duckdb"
    sandbox.build_duckdb(str(duck_path), render_ddl(schema, "duckdb"), inserts)  # DuckDB checks FKs per row
    duck = duckdb.connect(str(duck_path), read_only=True)
    try:
        for table in tables:
            assert duck.execute(f'SELECT COUNT(*) FROM "{table.table.name}"').fetchone()[0] == len(table.rows)
    finally:
        duck.close()


def test_synthetic_rows_are_deterministic_per_seed():
    _, first, _ = build()
    _, again, _ = build()
    _, other, _ = build(seed=1)
    assert render_inserts(first) == render_inserts(again)
    assert render_inserts(first) != render_inserts(other)


def test_repository_rows_are_used_and_bad_rows_left_out():
    rows = """
    INSERT INTO country VALUES ('PT', 'Portugal'), ('NO', 'Norway'), ('PT', 'Duplicate key');
    INSERT INTO customer (first_name, last_name, email, country, signed_up, active) VALUES
      ('Ada', 'L', 'ada@x.org', 'PT', '2020/1/2', 1),
      ('Bob', 'T', 'bob@x.org', 'XX', '2020-01-03', 0),
      ('Cy', 'D', 'ada@x.org', 'NO', '2020-01-04', 1),
      ('Di', NULL, 'di@x.org', 'NO', '2020-01-05', 1),
      ('Ed', 'E', 'ed@x.org', NULL, 'not a date', 1);
    """
    _, tables, counts = build(rows)
    by_name = {t.table.name: t for t in tables}
    assert by_name["country"].source == "repository" and len(by_name["country"].rows) == 2
    customer = by_name["customer"]
    assert customer.source == "repository"
    assert [r[1] for r in customer.rows] == ["Ada"]
    assert customer.rows[0][0] == 1                                    # auto-increment numbered
    assert customer.rows[0][7] == "2020-01-02 00:00:00"                # date normalised
    assert by_name["product"].source == "synthetic"                    # no rows in the file
    assert counts["rows/repository/duplicate_key"] == 2                # 'PT' twice, ada@x.org twice
    assert counts["rows/repository/dangling_foreign_key"] == 1         # country 'XX'
    assert counts["rows/repository/null_in_not_null"] == 1
    assert counts["rows/bad_value"] == 1


def test_self_reference_cycles_are_left_out():
    table = Table("t", [Column("id", "integer", not_null=True), Column("boss", "integer")], ("id",),
                  foreign_keys=[ForeignKey(("boss",), "t", ("id",))])
    counts = Counter()
    waves = _waves(table, [(1, None), (2, 1), (3, 4), (4, 3), (5, 2)], counts)
    assert waves == [[0], [1], [4]] and counts["rows/self_reference_unresolved"] == 2


def test_literal_round_trip_in_both_engines():
    values = [None, True, 7, -2.5, 1e-05, Decimal("19.99"), "it's", b"\x00\xff", "2024-01-31"]
    assert [literal(v) for v in values] == ["NULL", "TRUE", "7", "-2.5", "1e-05", "19.99", "'it''s'", "X'00FF'",
                                                 "'2024-01-31'"]
    sql = "SELECT " + ", ".join(literal(v) for v in values)
    back = sandbox.canonical_row(sqlite3.connect(":memory:").execute(sql).fetchone())
    duck = duckdb.connect(":memory:")
    try:
        assert sandbox.canonical_row(duck.execute(sql).fetchone()) == back
    finally:
        duck.close()
    assert Statement  # the names used by the helpers above
