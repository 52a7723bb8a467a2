"""SQL files -> statements -> schema model -> DDL both engines run: splitting per dialect, dialect
detection, the clean-up of MySQL / PostgreSQL / T-SQL / Oracle DDL, keys and foreign keys."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from codecorpus.sql import ddl
from codecorpus.sql.schema import ForeignKey, Schema, finalise_schema, render_ddl, spider_schema
from codecorpus.sql.statements import detect_dialect, hostile_kinds, statement_kind
from codecorpus.sql.schema import NotRunnable
from codecorpus.sql.statements import Statement, split_statements


def kinds(statements):
    return [s.kind for s in statements]


def schema_of(text: str, dialect: str) -> Schema:
    return finalise_schema(ddl.parse_schema(split_statements(text, dialect), dialect))


def runs_in_both(schema: Schema) -> None:
    conn = sqlite3.connect(":memory:")
    for statement in render_ddl(schema, "sqlite"):
        conn.execute(statement)
    conn.close()
    duck = duckdb.connect(":memory:")
    try:
        for statement in render_ddl(schema, "duckdb"):
            duck.execute(statement)
    finally:
        duck.close()


# --- splitting -----------------------------------------------------------------------------------


def test_semicolons_ignore_strings_comments_and_quoted_identifiers():
    text = ("-- a comment; with a semicolon\nCREATE TABLE \"a;b\" (x TEXT DEFAULT 'x;y');\n"
            "/* block; comment */ INSERT INTO t VALUES ('it''s; fine');\nSELECT 1")
    statements = split_statements(text, "sqlite")
    assert kinds(statements) == ["create_table", "insert", "query"]
    assert statements[1].text.endswith("('it''s; fine')")
    assert [s.line for s in statements] == [2, 3, 4]


def test_mysql_backslash_escapes_and_delimiter_blocks():
    text = ("INSERT INTO t VALUES ('O\\'Neil; Jr');\n"
            "DELIMITER $$\nCREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW BEGIN\n  SET NEW.a = 1;\n  SET NEW.b = 2;\nEND$$\n"
            "DELIMITER ;\nCREATE TABLE u (id INT);")
    statements = split_statements(text, "mysql")
    assert kinds(statements) == ["insert", "create_routine", "create_table"]
    assert "SET NEW.b = 2;" in statements[1].text


def test_postgres_dollar_bodies_meta_commands_and_copy_blocks():
    text = ("\\connect shop\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
            "CREATE FUNCTION g() RETURNS int AS $body$ SELECT 2; $body$ LANGUAGE sql;\n"
            "COPY public.t (a, b) FROM stdin;\n1\tx;y\n2\t\\N\n\\.\nCREATE TABLE t (a int, b text);")
    statements = split_statements(text, "postgres")
    assert kinds(statements) == ["other", "create_routine", "create_routine", "copy", "create_table"]
    assert statements[0].text == "\\connect shop"
    assert statements[3].data == "1\tx;y\n2\t\\N\n"


def test_tsql_go_batches_and_statements_without_semicolons():
    text = ("USE [Shop]\nGO\nCREATE TABLE [dbo].[A] ([Id] INT NOT NULL)\nCREATE TABLE [dbo].[B] ([Id] INT)\n"
            "INSERT [dbo].[A] ([Id]) VALUES (1)\nGO\n"
            "CREATE PROCEDURE p AS\nBEGIN\n  SELECT 1;\n  INSERT INTO A VALUES (2);\nEND\nGO\n")
    statements = split_statements(text, "tsql")
    assert kinds(statements) == ["other", "create_table", "create_table", "insert", "create_routine"]
    assert "INSERT INTO A VALUES (2);" in statements[-1].text


def test_oracle_slash_ends_plsql_blocks():
    text = ("CREATE TABLE t (id NUMBER);\nCREATE OR REPLACE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
            "  SELECT s.NEXTVAL INTO :new.id FROM dual;\nEND;\n/\nINSERT INTO t VALUES (1);\nCOMMIT;\n/\n")
    statements = split_statements(text, "oracle")
    assert kinds(statements) == ["create_table", "create_routine", "insert", "other"]
    assert statements[1].text.rstrip().endswith("END;")


def test_an_unbalanced_statement_does_not_swallow_the_rest():
    statements = split_statements("CREATE TABLE (broken;\nCREATE TABLE t (a INT);", "generic")
    assert kinds(statements) == ["create_table", "create_table"]


@pytest.mark.parametrize("path, text, expected", [
    ("db/Chinook_MySql.sql", "", "mysql"),
    ("x/Chinook_SqlServer_AutoIncrementPKs.sql", "", "tsql"),
    ("Chinook_Oracle.sql", "", "oracle"),
    ("Chinook_Db2.sql", "", "db2"),
    ("pagila-schema.sql", "", "postgres"),
    ("schema.sql", "CREATE TABLE `a` (id int AUTO_INCREMENT) ENGINE=InnoDB;", "mysql"),
    ("schema.sql", "CREATE TABLE a (id SERIAL);\nCOPY a FROM stdin;\n\\.\n", "postgres"),
    ("schema.sql", "CREATE TABLE [dbo].[a] (id INT IDENTITY(1,1))\nGO\n", "tsql"),
    ("schema.sql", "CREATE TABLE a (n VARCHAR2(10), m NUMBER(5));\n/\n", "oracle"),
    ("schema.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT);", "sqlite"),
    ("schema.sql", "CREATE TABLE a (id INT);", "generic"),
])
def test_dialect_detection(path, text, expected):
    assert detect_dialect(path, text) == expected


# --- DDL normalisation ---------------------------------------------------------------------------------

MYSQL = """
CREATE TABLE `shop`.`customers` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL COMMENT 'full name',
  `email` varchar(255) NOT NULL,
  `tier` enum('free','pro') NOT NULL DEFAULT 'free',
  `updated` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `balance` decimal(10,2) DEFAULT '0.00',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_email` (`email`),
  KEY `idx_name` (`name`)
) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4;
CREATE TABLE `orders` (
  `id` int NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `customer_id` int unsigned NOT NULL,
  CONSTRAINT `fk_c` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB;
"""


def test_mysql_ddl_is_cleaned_up():
    schema = schema_of(MYSQL, "mysql")
    customers, orders = schema.table("customers"), schema.table("orders")
    assert customers.name == "customers"  # schema prefix stripped
    assert customers.primary_key == ("id",) and customers.column("id").autoincrement
    assert customers.uniques == [("email",)]                      # named inline key lifted
    assert customers.indexes == [("idx_name", ("name",))]
    assert customers.column("tier").enum == ("free", "pro")
    assert customers.column("balance").default == 0.0            # '0.00' fitted to the decimal
    assert orders.foreign_keys == [ForeignKey(("customer_id",), "customers", ("id",))]
    notes = schema.notes
    for kind in ("dropped/charset_collate", "dropped/on_update", "dropped/comment", "dropped/table_options",
                 "dropped/schema_prefix", "lifted/named_unique_key", "mapped/enum_check"):
        assert notes[kind] >= 1, kind
    sqlite_ddl = "\n".join(render_ddl(schema, "sqlite"))
    for gone in ("CHARACTER SET", "COLLATE", "ON UPDATE", "ENGINE", "COMMENT", "AUTO_INCREMENT", "`"):
        assert gone not in sqlite_ddl
    assert "CHECK (\"tier\" IN ('free', 'pro'))" in sqlite_ddl
    runs_in_both(schema)


POSTGRES = """
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901);
CREATE TABLE public.people (
    person_id integer DEFAULT nextval('public.people_person_id_seq'::regclass) NOT NULL,
    name text NOT NULL,
    born public.year,
    feeling public.mood DEFAULT 'ok'::public.mood,
    tags text[],
    profile jsonb,
    uid uuid,
    created timestamp with time zone DEFAULT now() NOT NULL,
    score numeric,
    age_hours numeric(6,2) GENERATED ALWAYS AS (age * 24) VIRTUAL
);
CREATE TABLE public.pets (
    pet_id bigserial PRIMARY KEY,
    owner_id integer REFERENCES public.people(person_id),
    name varchar(40) NOT NULL CHECK (length(name) > 0)
);
CREATE TABLE public.measurements (day date NOT NULL, v int) PARTITION BY RANGE (day);
CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE ONLY public.people ADD CONSTRAINT people_pkey PRIMARY KEY (person_id);
ALTER TABLE public.people OWNER TO postgres;
CREATE UNIQUE INDEX people_name_key ON public.people USING btree (name);
CREATE INDEX people_lower_name ON public.people (lower(name));
"""


def test_postgres_ddl_is_cleaned_up():
    schema = schema_of(POSTGRES, "postgres")
    people, pets = schema.table("people"), schema.table("pets")
    assert people.primary_key == ("person_id",) and people.column("person_id").autoincrement
    assert people.column("born").family == "integer"              # the domain's base type
    assert people.column("feeling").enum == ("sad", "ok", "happy")
    assert people.column("tags").family == "text" and people.column("profile").family == "text"
    assert people.column("created").family == "timestamp"
    assert people.uniques == [("name",)]                          # CREATE UNIQUE INDEX
    assert people.column("age_hours") is None                     # VIRTUAL generated column left out
    assert pets.column("pet_id").autoincrement and pets.column("pet_id").big
    assert pets.foreign_keys == [ForeignKey(("owner_id",), "people", ("person_id",))]
    assert "measurements_2024" not in schema.tables               # a partition is not a table of its own
    notes = schema.notes
    assert notes["dropped/check"] >= 1 and notes["dropped/expression_index"] == 1
    assert notes["dropped/unparsed_column_or_constraint"] == 1
    runs_in_both(schema)


TSQL = """
CREATE TABLE [dbo].[Departments](
	[DepartmentID] [int] IDENTITY(1,1) NOT NULL,
	[Name] [nvarchar](50) NOT NULL,
	[Budget] [money] NULL,
	[Active] [bit] NOT NULL DEFAULT ((1)),
	[Badge] [uniqueidentifier] NULL,
	[Started] [datetime2](7) NULL,
 CONSTRAINT [PK_Departments] PRIMARY KEY CLUSTERED ([DepartmentID] ASC)
) ON [PRIMARY]
GO
CREATE TABLE [dbo].[Staff]([StaffID] [int] NOT NULL, [DepartmentID] [int] NOT NULL, [Notes] [nvarchar](max) NULL)
GO
ALTER TABLE [dbo].[Staff] ADD CONSTRAINT [PK_Staff] PRIMARY KEY NONCLUSTERED ([StaffID])
GO
ALTER TABLE [dbo].[Staff] WITH CHECK ADD CONSTRAINT [FK_Staff_Dep] FOREIGN KEY([DepartmentID])
REFERENCES [dbo].[Departments] ([DepartmentID])
GO
"""


def test_tsql_ddl_is_cleaned_up():
    schema = schema_of(TSQL, "tsql")
    departments, staff = schema.table("Departments"), schema.table("Staff")
    assert departments.primary_key == ("DepartmentID",) and departments.column("DepartmentID").autoincrement
    assert (departments.column("Budget").family, departments.column("Budget").precision) == ("decimal", 19)
    assert departments.column("Active").family == "boolean" and departments.column("Active").default is True
    assert departments.column("Started").family == "timestamp"
    assert staff.primary_key == ("StaffID",)
    assert staff.foreign_keys == [ForeignKey(("DepartmentID",), "Departments", ("DepartmentID",))]
    assert "[" not in "\n".join(render_ddl(schema, "duckdb"))
    runs_in_both(schema)


ORACLE = """
CREATE TABLE teachers (teacher_id NUMBER(10) NOT NULL, name VARCHAR2(80) NOT NULL, hired DATE, notes CLOB,
  CONSTRAINT pk_teachers PRIMARY KEY (teacher_id));
CREATE TABLE courses (course_id NUMBER NOT NULL, teacher_id NUMBER, fee NUMBER(8,2), weight NUMBER,
  CONSTRAINT pk_courses PRIMARY KEY (course_id));
ALTER TABLE courses ADD CONSTRAINT fk_t FOREIGN KEY (teacher_id) REFERENCES teachers (teacher_id);
CREATE SEQUENCE courses_seq START WITH 1 NOCACHE;
"""


def test_oracle_ddl_is_cleaned_up():
    schema = schema_of(ORACLE, "oracle")
    teachers, courses = schema.table("teachers"), schema.table("courses")
    assert teachers.column("teacher_id").family == "integer"      # NUMBER(10)
    assert teachers.column("name").length == 80 and teachers.column("notes").family == "text"
    assert courses.column("course_id").family == "integer"        # bare NUMBER key
    assert courses.column("weight").family == "real"              # bare NUMBER measure
    assert (courses.column("fee").precision, courses.column("fee").scale) == (8, 2)
    assert courses.column("teacher_id").family == "integer"       # takes its parent's type
    assert courses.foreign_keys == [ForeignKey(("teacher_id",), "teachers", ("teacher_id",))]
    runs_in_both(schema)


def test_foreign_keys_to_unknown_or_non_unique_targets_and_cycles_are_dropped():
    text = """
    CREATE TABLE a (id INT PRIMARY KEY, b_id INT REFERENCES b(id), code TEXT);
    CREATE TABLE b (id INT PRIMARY KEY, a_id INT REFERENCES a(id));
    CREATE TABLE c (id INT PRIMARY KEY, x INT REFERENCES nowhere(id), y TEXT REFERENCES a(code),
                    parent INT REFERENCES c(id));
    """
    schema = schema_of(text, "generic")
    assert schema.notes["dropped/fk_cycle"] == 1
    assert schema.notes["dropped/fk_unknown_table"] == 1
    assert schema.notes["dropped/fk_not_unique_target"] == 1
    assert schema.table("c").foreign_keys == [ForeignKey(("parent",), "c", ("id",))]  # self reference kept
    order = list(schema.tables)
    for table in schema.tables.values():
        for fk in table.foreign_keys:
            assert order.index(fk.ref_table.lower()) <= order.index(table.name.lower())
    runs_in_both(schema)


def test_schema_without_usable_tables_is_not_runnable():
    with pytest.raises(NotRunnable):
        schema_of("CREATE TABLE (nonsense;\nCREATE TABLE empty ();", "generic")
    with pytest.raises(NotRunnable):
        schema_of("SELECT 1;", "generic")


def test_spider_schema_shape():
    schema = schema_of(MYSQL, "mysql")
    spider = spider_schema("shop", schema)
    assert spider["table_names_original"] == ["customers", "orders"]
    assert spider["column_names_original"][0] == [-1, "*"]
    names = spider["column_names_original"]
    pk = spider["primary_keys"][0]
    assert names[pk] == [0, "id"]
    child, parent = spider["foreign_keys"][0]
    assert names[child] == [1, "customer_id"] and names[parent] == [0, "id"]


def test_hostile_statements_are_classified():
    def hostile(text):
        return hostile_kinds(Statement(text, statement_kind(text), 1))

    assert hostile("ATTACH DATABASE '/tmp/x.db' AS x") == ["attach"]
    assert hostile("PRAGMA writable_schema = 1") == ["pragma"]
    assert hostile("SELECT load_extension('/tmp/x.so')") == ["load_extension"]
    assert hostile("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r") == ["recursive_cte"]
    assert hostile("SELECT * FROM a, b, c") == ["cross_join"]
    assert hostile("SELECT * FROM a, b WHERE a.id = b.id") == []
    assert hostile("COPY t TO PROGRAM 'rm -rf /'") == ["file_access"]
    assert hostile("INSERT INTO t VALUES ('ATTACH DATABASE')") == []  # literals are never run


def test_near_identical_schemas_share_a_fingerprint():
    from codecorpus.sql.database import mark_near_identical
    from codecorpus.sql.schema import schema_fingerprint

    mysql = schema_of("CREATE TABLE `Album` (`AlbumId` INT NOT NULL, `Title` NVARCHAR(160) NOT NULL, "
                      "PRIMARY KEY (`AlbumId`)) ENGINE=InnoDB;", "mysql")
    postgres = schema_of('CREATE TABLE "album" ("album_id" SERIAL, "title" VARCHAR(160) NOT NULL, '
                         'PRIMARY KEY ("album_id"));', "postgres")
    same_pg = schema_of('CREATE TABLE album (albumid NUMERIC(10) NOT NULL, title TEXT, PRIMARY KEY (albumid));',
                        "postgres")
    other = schema_of("CREATE TABLE album (albumid INT PRIMARY KEY, title TEXT, year INT);", "sqlite")
    assert schema_fingerprint(mysql) == schema_fingerprint(same_pg)       # dialects and types do not count
    assert schema_fingerprint(mysql) != schema_fingerprint(postgres)      # a renamed column does
    assert schema_fingerprint(mysql) != schema_fingerprint(other)
    rows = [{"db_id": "b", "data_source": "repository", "rows": 10}, {"db_id": "a", "data_source": "synthetic",
                                                                       "rows": 40},
            {"db_id": "c", "data_source": "repository", "rows": 10}]
    events = list(mark_near_identical(("fp", rows)))
    marked = [e for e in events if isinstance(e, dict)]
    assert {r["db_id"]: r["representative"] for r in marked} == {"a": "b", "b": "b", "c": "b"}
    assert {e.counter: getattr(e, "value", 1) for e in events if not isinstance(e, dict)} == {
        "sql/near_identical/groups": 1, "sql/near_identical/databases": 2}
