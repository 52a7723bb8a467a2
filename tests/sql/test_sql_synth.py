"""Query synthesis: Spider hardness levels, template dedup, question phrasing, and the validation
chain's named rejections on a small shop database."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from codecorpus.config import load_config
from codecorpus.sql import database, naming, queries, sandbox, templates, validation
from codecorpus.sql.statements import split_statements

SHOP = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, city VARCHAR(30) NOT NULL,
                        tier VARCHAR(10) NOT NULL CHECK (tier IN ('free', 'pro')));
CREATE TABLE products (id INTEGER PRIMARY KEY, title VARCHAR(60) NOT NULL, price DECIMAL(8,2) NOT NULL,
                       category VARCHAR(20) NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                     ordered_on DATE NOT NULL, total DECIMAL(10,2) NOT NULL, status VARCHAR(12) NOT NULL);
CREATE TABLE order_lines (order_id INTEGER NOT NULL REFERENCES orders(id),
                          product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL,
                          PRIMARY KEY (order_id, product_id));
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    cfg = load_config()["sql"]
    statements = split_statements(SHOP, "sqlite")
    job = {"repo_name": "local/test", "path": "shop.sql", "dialect": "sqlite", "license": None,
           "ddl": statements, "batches": [], "queries": [], "borrowed": []}
    built = database.build_database(job, cfg)
    root = tmp_path_factory.mktemp("shop")
    path = str(root / "db.sqlite")
    sandbox.build_sqlite(path, built.row["ddl"], built.row["inserts"])
    sandbox.build_duckdb(str(root / "db.duckdb"), built.row["ddl_duckdb"], built.row["inserts"])
    limits = sandbox.Limits(timeout_seconds=0.5)
    sqlite_box, duckdb_box = sandbox.SQLiteSandbox(path, limits), sandbox.DuckDBSandbox(str(root / "db.duckdb"), limits)
    yield built, path, sqlite_box, duckdb_box
    sqlite_box.close()
    duckdb_box.close()


@pytest.mark.parametrize("sql, level", [
    ("SELECT COUNT(*) FROM t", "simple"),
    ("SELECT name FROM t WHERE a = 1", "simple"),
    ("SELECT name, age FROM t WHERE a = 1 ORDER BY age", "moderate"),
    ("SELECT c, COUNT(*) FROM t GROUP BY c", "moderate"),
    ("SELECT name FROM t WHERE x > (SELECT AVG(x) FROM t)", "complex"),
    ("SELECT a FROM t WHERE b > 1 INTERSECT SELECT a FROM t WHERE b < 0", "complex"),
    ("SELECT T2.n, COUNT(*) FROM a AS T1 JOIN b AS T2 ON T1.k = T2.k GROUP BY T2.k, T2.n "
     "ORDER BY COUNT(*) DESC LIMIT 3", "highly complex"),
    ("SELECT n FROM (SELECT n, RANK() OVER (ORDER BY v DESC) AS r FROM t) AS x WHERE r <= 3", "highly complex"),
])
def test_spider_hardness(sql, level):
    assert queries.hardness(queries.parse_query(sql)) == level


def test_template_key_masks_literals_case_and_whitespace():
    key = lambda sql: queries.template_key(queries.parse_query(sql))  # noqa: E731
    assert key("SELECT name FROM t WHERE city = 'Oslo' LIMIT 3") == key("select  name\nFROM t where city='Lima' LIMIT 5")
    assert key("SELECT name FROM t WHERE city = 'Oslo'") != key("SELECT name FROM t WHERE tier = 'Oslo'")


def test_nouns_and_identifiers():
    assert (naming.plural("order line"), naming.plural("categories"), naming.singular("addresses")) == (
        "order lines", "categories", "address")
    assert (queries.ident("price"), queries.ident("order"), queries.ident("Unit Price")) == ("price", '"order"', '"Unit Price"')


def test_templates_cover_every_level_and_phrase_questions(shop):
    built, path, _, _ = shop
    profile = templates.profile_database(path, built.schema)
    pools = templates.template_candidates(profile, random.Random("seed"))
    assert all(pools[level] for level in queries.LEVELS)
    again = templates.template_candidates(templates.profile_database(path, built.schema), random.Random("seed"))
    assert [c.sql for c in pools["complex"]] == [c.sql for c in again["complex"]]  # deterministic
    ids = {c.template_id for level in queries.LEVELS for c in pools[level]}
    assert {"join_group_top", "window_rank", "cte_above_average", "two_hop_group_top", "per_year"} <= ids
    for level in queries.LEVELS:
        for cand in pools[level]:
            assert cand.question.endswith(("?", ".")) and cand.question[0].isupper()


def test_validation_keeps_good_queries_and_names_every_rejection(shop):
    built, _, sqlite_box, duckdb_box = shop
    validator = validation.Validator(sqlite_box, duckdb_box, {t.table.name: len(t.rows) for t in built.tables})

    def check(sql, **kw):
        return validator.check(queries.Candidate(sql, "Q?", "test", **kw))

    kept = check("SELECT city, COUNT(*) FROM customers GROUP BY city")
    assert kept.reason is None and kept.engine_agreement is True and kept.result_hash
    assert kept.difficulty == "moderate" and not kept.ordered
    again = check("SELECT city, COUNT(*) FROM customers GROUP BY city")
    assert again.reason == "duplicate_template"
    reasons = {
        "SELEC name FROM customers": "parse_error",
        "DELETE FROM customers": "not_select",
        "SELECT name FROM customers ORDER BY random()": "nondeterministic",
        "SELECT nope FROM customers": "explain_error",
        "SELECT * FROM pragma_table_info('customers')": "denied",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT MAX(n) FROM r": "timeout",
        "SELECT a.id, b.id, c.id FROM customers a, customers b, customers c": "too_many_rows",
        "SELECT name FROM customers WHERE city = 'Atlantis'": "empty_result",
        "SELECT NULL FROM customers WHERE id = 1": "all_null",
        "SELECT name, city FROM customers": "whole_table",
        "SELECT id / 2 FROM customers WHERE id < 4": "engine_disagreement",  # integer division in SQLite only
        "SELECT total(id) FROM customers": "duckdb_error",  # a SQLite-only aggregate
    }
    for sql, reason in reasons.items():
        assert check(sql).reason == reason, sql
    assert check("SELECT name, city FROM customers", asks_all=True).reason is None
    assert check("SELECT tier FROM customers WHERE id > 1", hostile=("cross_join",)).reason == "hostile"
    assert validator.max_seconds < 2.0


def test_repository_queries_are_translated_and_described(shop):
    built, _, _, _ = shop
    statements = split_statements(
        "SELECT c.name, COUNT(o.id) AS orders FROM public.customers c JOIN public.orders o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY orders DESC LIMIT 3;\n"
        "CREATE VIEW big AS SELECT title FROM products WHERE price > 10;\n"
        "SELECT * FROM elsewhere;\nATTACH DATABASE 'x' AS y;", "postgres")
    own = queries.repo_candidates(statements, "postgres", built.schema, 10)
    assert [c.sql for c in own][:2] == [
        "SELECT c.name, COUNT(o.id) AS orders FROM customers AS c JOIN orders AS o ON o.customer_id = c.id "
        "GROUP BY c.name ORDER BY orders DESC NULLS FIRST LIMIT 3",  # PostgreSQL's NULL order, kept
        "SELECT title FROM products WHERE price > 10"]
    assert own[0].question == ("What are the name and orders of customers and orders, for each name, ordered by "
                               "orders (descending), first 3 only?")
    assert own[-1].hostile == ("attach",)
    borrowed = queries.repo_candidates(statements, "postgres", built.schema, 10, borrowed=True)
    assert "SELECT * FROM elsewhere" not in [c.sql for c in borrowed]  # another schema's query


def test_process_database_fills_the_quota_per_level():
    cfg = load_config()["sql"]
    cfg["queries"]["per_level"] = 3
    job = {"repo_name": "local/test", "path": "shop.sql", "dialect": "sqlite", "license": "mit",
           "ddl": split_statements(SHOP, "sqlite"), "batches": [], "queries": [], "borrowed": []}
    events = list(database.process_database(job, cfg))
    rows = [e for e in events if isinstance(e, database.TableRow)]
    triples = [e.row for e in rows if e.table == "sql_triples"]
    assert [e.table for e in rows].count("sql_databases") == 1
    assert Counter(t["difficulty"] for t in triples) == {level: 3 for level in queries.LEVELS}
    assert len({t["template"] for t in triples}) == len(triples)
    counters = Counter()
    for e in events:
        if hasattr(e, "counter"):
            counters[e.counter] += getattr(e, "value", 1)
    rejected = sum(v for k, v in counters.items() if k.startswith("filter/sql_check/"))
    assert counters["sql/candidates"] == len(triples) + rejected
