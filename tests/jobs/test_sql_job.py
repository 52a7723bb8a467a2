"""``codecorpus sql`` end to end: a folder of .sql files in five dialects (hostile statements and a
broken schema included) and the shared sample; every triple is re-executed from ``sql_databases/``
to the same ``result_hash``, and the accounting identities are checked from the written tables."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from codecorpus.sql import queries, sandbox

from conftest import manifest_of, read_table, run_cli

SHOP_MYSQL = r"""
SET NAMES utf8mb4;
CREATE TABLE `customers` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  `email` varchar(255) NOT NULL,
  `tier` enum('free','pro','enterprise') NOT NULL DEFAULT 'free',
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`), UNIQUE KEY `uk_email` (`email`), KEY `idx_name` (`name`)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4;
CREATE TABLE `products` (`id` int NOT NULL AUTO_INCREMENT, `title` varchar(200) NOT NULL,
  `price` decimal(10,2) NOT NULL DEFAULT '0.00', `stock` smallint unsigned DEFAULT 0, PRIMARY KEY (`id`)) ENGINE=MyISAM;
CREATE TABLE `orders` (`id` int NOT NULL AUTO_INCREMENT, `customer_id` int unsigned NOT NULL, `ordered_on` date NOT NULL,
  `status` varchar(20) NOT NULL, PRIMARY KEY (`id`),
  CONSTRAINT `fk_orders_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE CASCADE);
INSERT INTO `customers` (`id`, `name`, `email`, `tier`) VALUES (1,'Ada O\'Neil','ada@example.com','pro'),
  (2,'Bob Tables','bob@example.com','free'),(3,'Cy','cy@example.com','enterprise'),(4,'Di','di@example.com','pro');
INSERT INTO `products` VALUES (1,'Kettle',24.50,10),(2,'Teapot',31.00,3),(3,'Mug',7.25,50),(4,'Spoon',1.99,NULL);
INSERT INTO `orders` VALUES (1,1,'2024-01-05','shipped'),(2,1,'2024-02-11','open'),(3,2,'2024-02-12','shipped'),
  (4,3,'2024-03-01','cancelled'),(5,9,'2024-03-02','open');
DELIMITER $$
CREATE TRIGGER trg AFTER INSERT ON orders FOR EACH ROW BEGIN
  UPDATE products SET stock = stock - 1;
END$$
DELIMITER ;
"""

LIBRARY_POSTGRES = """
SET statement_timeout = 0;
\\connect library
CREATE TYPE public.genre AS ENUM ('fiction', 'poetry', 'history');
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated := now(); RETURN NEW; END; $$;
CREATE TABLE public.authors (author_id integer DEFAULT nextval('public.authors_author_id_seq'::regclass) NOT NULL,
    full_name text NOT NULL, born date);
CREATE TABLE public.books (book_id serial, author_id integer NOT NULL, title character varying(200) NOT NULL,
    kind public.genre DEFAULT 'fiction'::public.genre, tags text[], published_on date, price numeric(6,2), meta jsonb);
ALTER TABLE ONLY public.authors ADD CONSTRAINT authors_pkey PRIMARY KEY (author_id);
ALTER TABLE ONLY public.books ADD CONSTRAINT books_pkey PRIMARY KEY (book_id);
ALTER TABLE ONLY public.books ADD CONSTRAINT books_author_fkey FOREIGN KEY (author_id) REFERENCES public.authors(author_id);
COPY public.authors (author_id, full_name, born) FROM stdin;
1\tUrsula K. Le Guin\t1929-10-21
2\tToni Morrison\t1931-02-18
3\tAnonymous\t\\N
\\.
COPY public.books (book_id, author_id, title, kind, tags, published_on, price, meta) FROM stdin;
1\t1\tA Wizard of Earthsea\tfiction\t{magic}\t1968-01-01\t9.99\t{}
2\t1\tThe Dispossessed\tfiction\t\\N\t1974-05-01\t12.50\t\\N
3\t2\tBeloved\tfiction\t\\N\t1987-09-02\t14.00\t\\N
4\t3\tBeowulf\tpoetry\t\\N\t1000-01-01\t5.00\t\\N
\\.
CREATE VIEW public.pricey AS SELECT title, price FROM public.books WHERE price > 10;
"""

HR_TSQL = """
USE [HR]
GO
CREATE TABLE [dbo].[Departments]([DepartmentID] [int] IDENTITY(1,1) NOT NULL, [Name] [nvarchar](50) NOT NULL,
  [Budget] [money] NULL, CONSTRAINT [PK_Departments] PRIMARY KEY CLUSTERED ([DepartmentID] ASC)) ON [PRIMARY]
CREATE TABLE [dbo].[Employees]([EmployeeID] [int] IDENTITY(1,1) NOT NULL, [DepartmentID] [int] NOT NULL,
  [FullName] [nvarchar](max) NOT NULL, [HiredOn] [datetime2](7) NOT NULL, [Active] [bit] NOT NULL DEFAULT ((1)),
  CONSTRAINT [PK_Employees] PRIMARY KEY CLUSTERED ([EmployeeID] ASC))
GO
ALTER TABLE [dbo].[Employees] WITH CHECK ADD CONSTRAINT [FK_E_D] FOREIGN KEY([DepartmentID])
REFERENCES [dbo].[Departments] ([DepartmentID])
GO
INSERT [dbo].[Departments] ([DepartmentID], [Name], [Budget]) VALUES (1, N'Engineering', 100000.0000)
INSERT [dbo].[Departments] ([DepartmentID], [Name], [Budget]) VALUES (2, N'Sales', 50000.0000)
GO
INSERT INTO [dbo].[Employees] ([DepartmentID], [FullName], [HiredOn], [Active]) VALUES (1, N'Grace Hopper',
  CAST(N'2019-03-01T00:00:00.0000000' AS DateTime2), 1)
INSERT INTO [dbo].[Employees] ([DepartmentID], [FullName], [HiredOn], [Active]) VALUES (2, N'Ada Lovelace',
  CONVERT(datetime, '2021-11-30', 120), 0)
GO
"""

SCHOOL_ORACLE = """
CREATE TABLE teachers (teacher_id NUMBER(10) NOT NULL, name VARCHAR2(80) NOT NULL, hired DATE,
  CONSTRAINT pk_teachers PRIMARY KEY (teacher_id));
CREATE TABLE courses (course_id NUMBER NOT NULL, teacher_id NUMBER, title VARCHAR2(120) NOT NULL, credits NUMBER,
  fee NUMBER(8,2), CONSTRAINT pk_courses PRIMARY KEY (course_id));
ALTER TABLE courses ADD CONSTRAINT fk_courses_teacher FOREIGN KEY (teacher_id) REFERENCES teachers (teacher_id);
CREATE OR REPLACE TRIGGER courses_bi BEFORE INSERT ON courses FOR EACH ROW
BEGIN
  SELECT courses_seq.NEXTVAL INTO :new.course_id FROM dual;
END;
/
INSERT INTO teachers (teacher_id, name, hired) VALUES (1, 'Marie Curie', TO_DATE('1995-09-01','YYYY-MM-DD'));
INSERT INTO teachers (teacher_id, name, hired) VALUES (2, 'Rock '||chr(38)||' Roll', TO_DATE('2001-01-15','YYYY-MM-DD'));
INSERT INTO courses (course_id, teacher_id, title, credits, fee) VALUES (1, 1, 'Chemistry', 6, 120.5);
INSERT INTO courses (course_id, teacher_id, title, credits, fee) VALUES (2, 1, 'Physics', 5, 99.99);
INSERT INTO courses (course_id, teacher_id, title, credits, fee) VALUES (3, 2, 'Music', 3, 45);
COMMIT;
"""

HOSTILE_SQLITE = """
CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER);
INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30), (4, 'd', 40), (5, 'e', 50), (6, 'f', 60);
ATTACH DATABASE '{evil}' AS evil;
PRAGMA writable_schema = 1;
SELECT load_extension('/tmp/evil.so');
SELECT * FROM pragma_table_info('t');
WITH RECURSIVE bomb(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM bomb) SELECT COUNT(*) FROM bomb;
SELECT COUNT(*) FROM t a, t b, t c, t d, t e, t f, t g, t h, t i, t j, t k, t l, t m, t o;
SELECT a.v FROM t a CROSS JOIN t b CROSS JOIN t c CROSS JOIN t d CROSS JOIN t e;
DELETE FROM t;
"""

FILES = {
    "shop_mysql.sql": SHOP_MYSQL,
    "db/library_postgres.sql": LIBRARY_POSTGRES,
    "db/hr_tsql.sql": HR_TSQL,
    "school_oracle.sql": SCHOOL_ORACLE,
    "hostile.sql": HOSTILE_SQLITE,
    "broken.sql": "CREATE TABLE (this is not sql;\nCREATE TABLE nothing ();\n",
    "queries.sql": "SELECT title, price FROM products WHERE price < 10 ORDER BY price;\n",
    "README.txt": "SQL fixtures",
    "LICENSE": "Permission is hereby granted, free of charge, to any person obtaining a copy of this software",
}
CONFIG = "sql:\n  sandbox:\n    timeout_seconds: 0.5\n  queries:\n    per_level: 4\n"


def write_folder(root: Path) -> Path:
    evil = root / "evil.db"
    for name, text in FILES.items():
        path = root / "sql" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{evil}", str(evil)))
    (root / "cfg.yaml").write_text(CONFIG)
    return root / "sql"


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqljob")
    folder = write_folder(root)
    out = root / "out"
    code = run_cli("sql", "--input", folder, "--output", out, "--config", root / "cfg.yaml", "--quiet")
    return root, out, code


def reexecute(databases: list, triples: list, duckdb_too: bool = False) -> int:
    """Rebuild every database from its row (DDL, then INSERTs, executed as written) and check that
    each triple's SQL gives its ``result_hash`` again; with ``duckdb_too``, also in DuckDB for the
    triples whose engines agreed. Returns how many triples were checked."""
    by_db: dict = {}
    for t in triples:
        by_db.setdefault(t["db_id"], []).append(t)
    checked = 0
    for db in databases:
        conn = sqlite3.connect(":memory:")
        for statement in db["ddl"] + db["inserts"]:
            conn.execute(statement)
        duck = None
        if duckdb_too:
            duck = duckdb.connect(":memory:")
            for statement in db["ddl_duckdb"] + db["inserts"]:
                duck.execute(statement)
        for t in by_db.pop(db["db_id"], []):
            rows = [sandbox.canonical_row(r) for r in conn.execute(t["sql"]).fetchall()]
            assert len(rows) == t["result_rows"], t["sql"]
            assert sandbox.result_hash(rows, t["ordered"]) == t["result_hash"], (db["db_id"], t["sql"])
            if duck is not None and t["engine_agreement"]:
                duck_sql = queries.duckdb_sql(queries.parse_query(t["sql"]))
                duck_rows = [sandbox.canonical_row(r) for r in duck.execute(duck_sql).fetchall()]
                assert sandbox.result_hash(duck_rows, t["ordered"]) == t["result_hash"], (db["db_id"], t["sql"])
            checked += 1
        conn.close()
        if duck is not None:
            duck.close()
    assert not by_db, f"triples without a database: {sorted(by_db)}"
    return checked


def reexecute_suites(databases: list, suites: list, triples: list) -> int:
    """Rebuild every test-suite database from the written tables (``sql_databases.ddl`` /
    ``ddl_duckdb``, then ``sql_test_suites.inserts``) and check that each triple gives its
    ``suite_result_hashes[index]`` there, in SQLite and in DuckDB. Returns the executions checked."""
    by_db = {d["db_id"]: d for d in databases}
    triples_of: dict = {}
    for t in triples:
        triples_of.setdefault(t["db_id"], []).append(t)
    checked = 0
    for member in suites:
        db = by_db[member["db_id"]]
        conn, duck = sqlite3.connect(":memory:"), duckdb.connect(":memory:")
        for statement in db["ddl"] + member["inserts"]:
            conn.execute(statement)
        for statement in db["ddl_duckdb"] + member["inserts"]:
            duck.execute(statement)
        for t in triples_of.get(member["db_id"], []):
            expected = t["suite_result_hashes"][member["index"]]
            rows = [sandbox.canonical_row(r) for r in conn.execute(t["sql"]).fetchall()]
            assert sandbox.result_hash(rows, t["ordered"]) == expected, (member["db_id"], member["index"], t["sql"])
            duck_rows = [sandbox.canonical_row(r) for r in
                         duck.execute(queries.duckdb_sql(queries.parse_query(t["sql"]))).fetchall()]
            assert sandbox.result_hash(duck_rows, t["ordered"]) == expected, (member["db_id"], member["index"], t["sql"])
            checked += 1
        conn.close()
        duck.close()
    return checked


def check_accounting(manifest: dict, rows: dict) -> None:
    counters = manifest["counters"]
    assert all(terms["holds"] for terms in manifest["accounting"].values()), manifest["accounting"]
    dropped = sum(v for k, v in counters.items() if k.startswith("filter/") and not k.startswith("filter/sql_check/"))
    dead = sum(v for k, v in counters.items() if k.startswith("dead_letter/files/"))
    assert counters["read/files"] == rows["sql_databases"] + dropped + dead
    rejected = sum(v for k, v in counters.items() if k.startswith("filter/sql_check/"))
    assert counters["sql/candidates"] == rows["sql_triples"] + rejected


def test_folder_of_sql_files(folder_run):
    root, out, code = folder_run
    assert code == 0
    manifest = manifest_of(out)
    counters = manifest["counters"]
    databases, triples, dead = (read_table(out, t) for t in ("sql_databases", "sql_triples", "dead_letter"))
    check_accounting(manifest, {"sql_databases": len(databases), "sql_triples": len(triples)})
    assert not (out / "sql_preferences").exists()  # only with --llm-endpoint

    assert counters["read/files"] == 9
    assert counters["filter/path/not_sql"] == 2 and counters["filter/sql_file/no_create_table"] == 1
    by_path = {d["path"]: d for d in databases}
    assert sorted(by_path) == ["db/hr_tsql.sql", "db/library_postgres.sql", "hostile.sql", "school_oracle.sql",
                               "shop_mysql.sql"]
    assert {d["path"]: d["dialect"] for d in databases} == {
        "db/hr_tsql.sql": "tsql", "db/library_postgres.sql": "postgres", "hostile.sql": "sqlite",
        "school_oracle.sql": "oracle", "shop_mysql.sql": "mysql"}
    for dialect in ("mysql", "postgres", "tsql", "oracle", "sqlite"):
        assert counters[f"sql/databases/{dialect}"] == 1
    assert {d["license"] for d in databases} == {"mit"} and {d["repo_name"] for d in databases} == {"local/sql"}
    assert by_path["school_oracle.sql"]["data_source"] == "repository"
    assert by_path["db/library_postgres.sql"]["rows"] == 7                 # COPY blocks
    assert "'Rock & Roll'" in by_path["school_oracle.sql"]["inserts"][0]   # '||chr(38)||'
    assert len(dead) == 1 and dead[0]["stage"] == "build_database" and "broken.sql" in dead[0]["key"]
    assert "not runnable" in dead[0]["error"]

    # hostile input: counted, contained, never kept
    for kind in ("attach", "pragma", "load_extension", "recursive_cte", "cross_join"):
        assert counters[f"sql/hostile/{kind}"] >= 1, kind
    assert counters["filter/sql_check/timeout"] >= 2                       # the CTE bomb and the 14-way join
    assert counters["filter/sql_check/denied"] >= 2                        # load_extension, pragma_table_info
    assert counters["filter/sql_check/not_select"] >= 2                    # ATTACH, PRAGMA never run
    assert not (root / "evil.db").exists()
    assert not any("bomb" in t["sql"] or "load_extension" in t["sql"] or "pragma" in t["sql"].lower()
                   for t in triples)

    # triples: every level, one per template per database, questions, sources
    assert set(Counter(t["difficulty"] for t in triples)) == set(queries.LEVELS)
    assert len({(t["db_id"], t["template"]) for t in triples}) == len(triples)
    assert all(t["engine_agreement"] is True and t["question"] and t["result_rows"] > 0 for t in triples)
    assert {t["source"] for t in triples} == {"template", "repo"}
    repo = [t for t in triples if t["source"] == "repo"]
    assert any("price < 10" in t["sql"] for t in repo)                      # borrowed from queries.sql
    assert any(t["sql"] == "SELECT title, price FROM books WHERE price > 10" for t in repo)  # a view's body
    assert reexecute(databases, triples, duckdb_too=True) == len(triples)

    # test suites: 8 neighbours per database, every triple reproduces on each in both engines
    suites = read_table(out, "sql_test_suites")
    assert Counter(s["db_id"] for s in suites) == {d["db_id"]: 8 for d in databases}
    assert all(len(t["suite_result_hashes"]) == 8 for t in triples)
    assert any(len(set(t["suite_result_hashes"] + [t["result_hash"]])) > 1 for t in triples)  # neighbours differ
    assert reexecute_suites(databases, suites, triples) == 8 * len(triples)
    assert counters["sql/test_suite/databases"] == 8 * len(databases)


def test_folder_run_is_deterministic(folder_run, tmp_path):
    root, out, _ = folder_run
    again = tmp_path / "again"
    assert run_cli("sql", "--input", root / "sql", "--output", again, "--config", root / "cfg.yaml", "--quiet") == 0
    for table in ("sql_databases", "sql_triples", "sql_test_suites", "dead_letter"):
        first = sorted(p.read_bytes() for p in (out / table).glob("*.parquet"))
        second = sorted(p.read_bytes() for p in (again / table).glob("*.parquet"))
        assert first == second, table


def test_bad_options_are_refused(tmp_path, capsys):
    assert run_cli("sql", "--input", "bq:public", "--output", tmp_path / "out") == 2
    (tmp_path / "cfg.yaml").write_text("sql:\n  engines: [duckdb]\n")
    (tmp_path / "in").mkdir()
    assert run_cli("sql", "--input", tmp_path / "in", "--output", tmp_path / "out", "--config",
                   tmp_path / "cfg.yaml") == 2
    assert "sql.engines" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sqlite_only(tmp_path):
    folder = write_folder(tmp_path)
    (tmp_path / "cfg.yaml").write_text(CONFIG + "  engines: [sqlite]\n")
    out = tmp_path / "out"
    for name in list(FILES):
        if name not in ("shop_mysql.sql",):
            (folder / name).unlink()
    assert run_cli("sql", "--input", folder, "--output", out, "--config", tmp_path / "cfg.yaml", "--quiet") == 0
    triples = read_table(out, "sql_triples")
    assert triples and all(t["engine_agreement"] is None for t in triples)


@pytest.mark.shared
@pytest.mark.slow
def test_shared_sample(shared_sample, tmp_path):
    out = tmp_path / "out"
    assert run_cli("sql", "--input", shared_sample, "--output", out, "--quiet") == 0
    manifest = manifest_of(out)
    counters = manifest["counters"]
    databases, triples = read_table(out, "sql_databases"), read_table(out, "sql_triples")
    check_accounting(manifest, {"sql_databases": len(databases), "sql_triples": len(triples)})
    chinook = [d for d in databases if d["repo_name"] == "lerocha/chinook-database"]
    assert len(chinook) == 11                                   # every Chinook dialect became runnable
    assert {d["dialect"] for d in chinook} == {"db2", "mysql", "oracle", "postgres", "sqlite", "tsql"}
    assert all(d["tables"] == 11 and d["data_source"] == "repository" for d in chinook)
    flask = [d for d in databases if d["repo_name"] == "pallets/flask"]
    assert len(flask) == 1 and "'test'" in " ".join(flask[0]["inserts"])  # rows borrowed from tests/data.sql
    assert counters["dead_letter/files/join_contents"] == 2                # the two pagila data blobs
    per_db = Counter(t["db_id"] for t in triples)
    assert all(per_db[d["db_id"]] >= 30 for d in chinook)
    assert set(Counter(t["difficulty"] for t in triples)) == set(queries.LEVELS)
    assert reexecute(databases, triples) == len(triples)
    suites = read_table(out, "sql_test_suites")
    assert reexecute_suites(databases, suites, triples) == sum(
        len(t["suite_result_hashes"]) for t in triples)


def test_plain_folder_never_reads_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.sql").write_text("CREATE TABLE secret (id INTEGER PRIMARY KEY, password TEXT);\n"
                                        "INSERT INTO secret VALUES (1, 'hunter2');\n")
    (outside / "dir" / "more.sql").write_text("CREATE TABLE more_secret (id INTEGER PRIMARY KEY);\n")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "shop.sql").write_text(SHOP_MYSQL)
    (folder / "leak.sql").symlink_to(outside / "secret.sql")
    (folder / "linked").symlink_to(outside / "dir", target_is_directory=True)
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    out = tmp_path / "out"
    assert run_cli("sql", "--input", folder, "--output", out, "--config", tmp_path / "cfg.yaml", "--quiet") == 0
    manifest = manifest_of(out)
    databases = read_table(out, "sql_databases")
    check_accounting(manifest, {"sql_databases": len(databases), "sql_triples": len(read_table(out, "sql_triples"))})
    assert [d["path"] for d in databases] == ["shop.sql"]
    assert manifest["counters"]["filter/file_kind/symlink"] == 2
    assert not any("hunter2" in " ".join(d["inserts"]) for d in databases)


def test_a_run_without_sql_files_warns_and_strict_fails(tmp_path, folder_run):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README.md").write_text("# no SQL here\n")
    (folder / "schema.txt").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    out = tmp_path / "out"
    assert run_cli("sql", "--input", folder, "--output", out, "--quiet") == 0
    manifest = manifest_of(out)
    assert manifest["counters"].get("sql/sql_files", 0) == 0
    assert "no .sql file was read: is --input the right folder or dump?" in manifest["warnings"]
    assert run_cli("sql", "--input", folder, "--output", out, "--overwrite", "--quiet", "--strict") == 1
    assert "no .sql file was read: is --input the right folder or dump?" in manifest_of(out)["warnings"]
    # a run that read .sql files has no such warning
    _, read_sql, _ = folder_run
    assert manifest_of(read_sql)["counters"]["sql/sql_files"] > 0
    assert not any(".sql file" in w for w in manifest_of(read_sql)["warnings"])
