"""SQL queries as ASTs: parsing, identifiers and literals, templates, hardness, repository queries.

Difficulty is Spider's hardness (component counts over the AST: easy / medium / hard / extra),
named as OmniSQL does: simple / moderate / complex / highly complex; window functions and CTEs
count as nesting. A query's template (OmniSQL's dedup key) has its literals replaced by a
placeholder, lower-cased, whitespace collapsed. Queries found in the repository get a question
described from their AST (``describe``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codecorpus.sql.naming import humanise
from codecorpus.sql.schema import Schema


LEVELS = ("simple", "moderate", "complex", "highly complex")


_RESERVED = set("""
ABORT ACTION ADD AFTER ALL ALTER ANALYZE AND ANY ARRAY AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BOTH BY
CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME
CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE
EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FALSE FETCH FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB
GROUP GROUPS HAVING IF IGNORE ILIKE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTERVAL
INTO IS ISNULL JOIN KEY LAST LATERAL LEADING LEFT LIKE LIMIT MATCH NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF
OFFSET ON ONLY OR ORDER OTHERS OUTER OVER PARTITION PIVOT PLAN PRAGMA PRECEDING PRIMARY QUALIFY QUERY RAISE RANGE
RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT
SELECT SET SOME SYMMETRIC TABLE TEMP TEMPORARY THEN TIES TO TRAILING TRANSACTION TRIGGER TRUE UNBOUNDED UNION UNIQUE
UNPIVOT UPDATE USER USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT
""".split())


def ident(name: str) -> str:
    """An identifier as written in generated SQL: bare when safe, double-quoted otherwise."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.upper() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


# --- parsing, hardness, templates ---------------------------------------------------------------


def parse_query(sql: str, dialect: str = "sqlite"):
    """The sqlglot AST of one statement, or raises ``ValueError``."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    from codecorpus.sql.ddl import quiet_sqlglot

    quiet_sqlglot()
    try:
        parsed = [p for p in sqlglot.parse(sql, read=dialect) if p is not None]
    except (SqlglotError, RecursionError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from None
    if len(parsed) != 1:
        raise ValueError(f"{len(parsed)} statements")
    return parsed[0]


def is_query(ast) -> bool:
    from sqlglot import exp

    return isinstance(ast, (exp.Select, exp.Union, exp.Intersect, exp.Except)) or (
        isinstance(ast, exp.Subquery) and is_query(ast.this))


def template_key(ast) -> str:
    """OmniSQL's dedup key: literals -> a placeholder, lower-cased, whitespace collapsed."""
    from sqlglot import exp

    masked = ast.copy().transform(lambda n: exp.Placeholder() if isinstance(n, exp.Literal) else n)
    return re.sub(r"\s+", " ", masked.sql(dialect="sqlite").lower()).strip()


def duckdb_sql(ast) -> str:
    """The query as DuckDB should run it to mean what it means in SQLite: sqlglot's translation,
    with ``LIKE`` as ``ILIKE`` (SQLite's LIKE ignores case, DuckDB's does not; a test suite with
    case variants of the same strings tells them apart)."""
    from sqlglot import exp

    def ilike(node):
        return exp.ILike(this=node.this, expression=node.expression) if isinstance(node, exp.Like) else node

    return ast.copy().transform(ilike).sql(dialect="duckdb")


def top_level_ordered(ast) -> bool:
    from sqlglot import exp

    node = ast.this if isinstance(ast, exp.Subquery) else ast
    return node.args.get("order") is not None


_NONDETERMINISTIC = re.compile(r"\b(?:random|randomblob|now|current_timestamp|current_date|current_time|"
                               r"changes|total_changes|last_insert_rowid|sqlite_version)\b|'now'", re.I)


def hardness(ast) -> str:
    """Spider's hardness (easy/medium/hard/extra) as OmniSQL's levels."""
    from sqlglot import exp

    root = ast.this if isinstance(ast, exp.Subquery) else ast
    nested = 0
    main = root
    while isinstance(main, (exp.Union, exp.Intersect, exp.Except)):
        nested += 1
        main = main.this
    if not isinstance(main, exp.Select):
        return "highly complex"
    # nested queries: subqueries anywhere except the set-operation operands counted above
    nested += sum(1 for s in root.find_all(exp.Subquery)) + len((main.args.get("with") or exp.With()).expressions)
    nested += sum(1 for _ in root.find_all(exp.Window))
    comp1 = 0
    where, group, order, having = (main.args.get(k) for k in ("where", "group", "order", "having"))
    comp1 += bool(where) + bool(group) + bool(order) + bool(main.args.get("limit"))
    comp1 += len(main.args.get("joins") or [])
    conds = [c for c in (where, having) if c is not None]
    comp1 += sum(1 for c in conds for _ in c.find_all(exp.Or))
    comp1 += sum(1 for c in conds for _ in c.find_all(exp.Like))
    parts = list(main.expressions) + [p for p in (where, having, order) if p is not None]
    aggs = sum(1 for part in parts for _ in part.find_all(exp.AggFunc))
    others = (aggs > 1) + (len(main.expressions) > 1)
    others += bool(where is not None and len(list(where.this.find_all(exp.And))) > 0)
    others += bool(group is not None and len(group.expressions) > 1)
    if comp1 <= 1 and others == 0 and nested == 0:
        return "simple"
    if (others <= 2 and comp1 <= 1 and nested == 0) or (comp1 <= 2 and others < 2 and nested == 0):
        return "moderate"
    if (others > 2 and comp1 <= 2 and nested == 0) or (2 < comp1 <= 3 and others <= 2 and nested == 0) or (
            comp1 <= 1 and others == 0 and nested <= 1):
        return "complex"
    return "highly complex"


@dataclass
class Candidate:
    sql: str
    question: str
    template_id: str
    source: str = "template"              # template | repo | llm
    question_source: str = "template"     # template | describe | llm
    asks_all: bool = False                # the question asks for every row
    intended: str = ""                    # the level the template aims at
    hostile: tuple = ()                   # hostile kinds of a repository statement (never kept)


# --- queries found in the repository ----------------------------------------------------------------


def repo_candidates(statements: list, dialect: str, schema: Schema, limit: int, borrowed: bool = False) -> list:
    """The repository's own SELECT/WITH statements and view bodies (and hostile statements, which
    run only in the sandbox and are never kept), translated to SQLite, schema prefixes removed.
    Queries borrowed from another file of the repository are kept only if they name a table of
    this database."""
    from sqlglot import exp

    from codecorpus.sql.ddl import quiet_sqlglot
    from codecorpus.sql.statements import SQLGLOT_DIALECT, Statement, hostile_kinds

    quiet_sqlglot()
    out = []
    for st in statements:
        if len(out) >= limit:
            break
        hostile = tuple(hostile_kinds(st))
        text = st.text
        if st.kind == "create_view":
            body = re.search(r"\bAS\s*(\(?\s*(?:SELECT|WITH)\b.*)", text, re.I | re.S)
            if not body:
                continue
            text = body.group(1)
            st = Statement(text, "query", st.line)
        elif st.kind != "query" and not hostile:
            continue
        try:
            ast = parse_query(text, SQLGLOT_DIALECT.get(dialect) or "sqlite")
            ctes = {c.alias_or_name.lower() for c in ast.find_all(exp.CTE)}
            tables = [t for t in ast.find_all(exp.Table) if t.name.lower() not in ctes]
            for table in tables:
                table.set("db", None)
                table.set("catalog", None)
            sql = ast.sql(dialect="sqlite")
        except Exception:  # noqa: BLE001 - whatever sqlglot makes of it, the parse check counts it
            sql, ast, tables = text, None, []
        if borrowed and not any(schema.table(t.name) for t in tables):
            continue  # a query of another schema in the same repository
        question = describe(ast, schema) if ast is not None and is_query(ast) else "Run this statement."
        out.append(Candidate(sql, question, "repository", source="repo", question_source="describe", hostile=hostile))
    return out


def describe(ast, schema: Schema) -> str:
    """A plain-language question for a query found in a repository (no LLM): its output
    columns, tables, filters, grouping, order and limit."""
    from sqlglot import exp

    root = ast.this if isinstance(ast, exp.Subquery) else ast
    if isinstance(root, (exp.Union, exp.Intersect, exp.Except)):
        kind = {exp.Union: "together with", exp.Intersect: "that also appear in",
                exp.Except: "except those in"}[type(root)]
        return f"{describe(root.this, schema).rstrip('?')}, {kind} the results of: {describe(root.expression, schema)}"
    if not isinstance(root, exp.Select):
        return "Run this statement."
    ctes = {c.alias_or_name.lower() for c in root.find_all(exp.CTE)}
    tables = list(dict.fromkeys(humanise(t.name) for t in root.find_all(exp.Table) if t.name.lower() not in ctes))
    cols = list(dict.fromkeys(_describe_expression(e) for e in root.expressions))
    text = f"What {'is' if len(cols) == 1 and not cols[0].endswith('s') else 'are'} the {_and(cols)}"
    if tables:
        text += f" of {_and(tables)}"
    where = root.args.get("where")
    if where is not None:
        cond = re.sub(r"\s+", " ", where.this.sql(dialect="sqlite"))
        text += f" where {cond if len(cond) <= 160 else cond[:157] + '...'}"
    group = root.args.get("group")
    if group is not None:
        text += ", for each " + _and([_describe_expression(g) for g in group.expressions])
    order = root.args.get("order")
    if order is not None:
        keys = [_describe_expression(o.this) + (" (descending)" if o.args.get("desc") else "")
                for o in order.expressions]
        text += ", ordered by " + _and(keys)
    limit = root.args.get("limit")
    if limit is not None and limit.expression is not None:
        text += f", first {limit.expression.sql()} only"
    return text + "?"


def _and(items: list) -> str:
    items = [i for i in items if i]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else "values"


def _describe_expression(e) -> str:
    from sqlglot import exp

    if isinstance(e, exp.Alias):
        alias = e.alias
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", alias or "") and len(alias) > 2:
            return humanise(alias)
        e = e.this
    if isinstance(e, exp.Star):
        return "all columns"
    if isinstance(e, exp.Column):
        return "all columns" if isinstance(e.this, exp.Star) else humanise(e.name)
    if isinstance(e, exp.Count):
        inner = e.this
        if isinstance(inner, exp.Distinct):
            return "number of distinct " + _and([_describe_expression(x) for x in inner.expressions])
        if inner is None or isinstance(inner, exp.Star):
            return "number of rows"
        return f"number of {_describe_expression(inner)}"
    names = {exp.Sum: "total", exp.Avg: "average", exp.Max: "largest", exp.Min: "smallest"}
    for kind, word in names.items():
        if isinstance(e, kind):
            return f"{word} {_describe_expression(e.this)}"
    name = e.alias_or_name if hasattr(e, "alias_or_name") else ""
    return humanise(name) if name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "computed value"
