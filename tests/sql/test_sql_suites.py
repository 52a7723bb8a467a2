"""Test suites (issue 20 item 1): neighbour databases keep the schema's constraints, differ from the
original the ways Spider's fuzzing does, and are seeded by the schema hash."""

from __future__ import annotations

import sqlite3
from collections import Counter

from codecorpus.sql import sandbox, suites
from codecorpus.sql.ddl import parse_schema
from codecorpus.sql.inserts import collect_batches, render_inserts
from codecorpus.sql.rows import assemble
from codecorpus.sql.schema import finalise_schema, render_ddl
from codecorpus.sql.statements import split_statements

SHOP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, vip BOOLEAN,
  country TEXT, born DATE);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id),
  total DECIMAL(8,2) NOT NULL, status TEXT CHECK (status IN ('open', 'shipped')), qty INTEGER);
CREATE TABLE staff (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES staff (id), name TEXT);
"""


def built(seed: int = 0):
    statements = split_statements(SHOP, "sqlite")
    schema = finalise_schema(parse_schema(statements, "sqlite"))
    tables = assemble(schema, collect_batches(statements, "sqlite", 100, Counter()), seed, "h", 40, 1000, Counter())
    return schema, tables


def test_neighbours_keep_keys_and_foreign_keys(tmp_path):
    schema, tables = built()
    settings = suites.SuiteSettings(size=4)
    suite = suites.build_suite(schema, tables, 0, "hash", settings)
    assert len(suite) == 4
    original = render_inserts(tables)
    for i, inserts in enumerate(suites.render_suite(suite, 500)):
        path = tmp_path / f"n{i}.sqlite"
        sandbox.build_sqlite(str(path), render_ddl(schema, "sqlite"), inserts)  # FKs enforced while loading
        sandbox.build_duckdb(":memory:", render_ddl(schema, "duckdb"), inserts)  # and row by row in DuckDB
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] > 0
        conn.close()
        assert inserts != original


def test_neighbours_differ_the_ways_fuzzing_does():
    schema, tables = built()
    suite = suites.build_suite(schema, tables, 0, "hash", suites.SuiteSettings(size=8))
    orig = {t.table.name: t.rows for t in tables}
    sizes = {len(n[0].rows) for n in suite}
    assert len(sizes) > 1                                              # rows dropped and added
    customers = [r for n in suite for r in n[0].rows]
    names = {r[1] for r in orig["customers"]}
    assert any(r[1] not in names for r in customers)                   # near variants of strings
    assert any(r[4] is None for r in customers)                        # NULLs where allowed
    assert all(r[1] is not None for r in customers)                    # never in NOT NULL
    totals = [float(r[2]) for r in orig["orders"]]
    new_totals = [float(r[2]) for n in suite for r in n[1].rows]
    assert min(totals) <= min(new_totals) and max(new_totals) <= max(totals)  # within the column's range
    assert set(new_totals) - set(totals)                               # shifted and re-drawn
    assert {r[3] for n in suite for r in n[1].rows} <= {"open", "shipped", None}  # enum kept


def test_suites_are_seeded_by_the_schema_hash():
    schema, tables = built()
    settings = suites.SuiteSettings(size=2)
    first = suites.render_suite(suites.build_suite(schema, tables, 0, "hash", settings), 500)
    again = suites.render_suite(suites.build_suite(schema, tables, 0, "hash", settings), 500)
    other = suites.render_suite(suites.build_suite(schema, tables, 0, "other", settings), 500)
    assert first == again and first != other
