"""Query synthesis over a built database, question templates, and the validation chain.

Queries come from templates over the schema and its data (OmniSQL/SynSQL's recipe, REFERENCE
§6): projections and filters, aggregates with GROUP BY / HAVING, ORDER BY / LIMIT, joins along
foreign keys, nested and correlated subqueries, set operations, CTEs and window functions.
Literals are drawn from the data (seeded by the database), so filters select something. Every
query gets a question from the template's phrasings (three styles: interrogative, imperative,
colloquial); queries found in the repository itself get a question described from their AST.

Difficulty is Spider's hardness (component counts over the AST: easy / medium / hard / extra),
named as OmniSQL does: simple / moderate / complex / highly complex; window functions and CTEs
count as nesting.

``Validator.check`` keeps a candidate only if, in order: it parses as one SELECT/WITH
(``parse_error``, ``not_select``), is deterministic (``nondeterministic``), its template (literals
replaced by a placeholder, lower-cased, whitespace collapsed) is new for the database
(``duplicate_template``), ``EXPLAIN QUERY PLAN`` accepts it (``explain_error``), it runs in the
SQLite sandbox (``timeout``, ``denied``, ``runtime_error``, ``too_many_rows``), its result is
not degenerate (``empty_result``, ``all_null``, ``whole_table``), its DuckDB translation runs
(``duckdb_error``, ``duckdb_timeout``) and both engines return the same result
(``engine_disagreement``).
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Optional

from codecorpus.sql import sandbox as sb
from codecorpus.sql.ddl import Schema, Table, humanise

LEVELS = ("simple", "moderate", "complex", "highly complex")
REJECTIONS = ("parse_error", "not_select", "nondeterministic", "duplicate_template", "explain_error", "timeout",
              "denied", "runtime_error", "too_many_rows", "empty_result", "all_null", "whole_table", "duckdb_error",
              "duckdb_timeout", "engine_disagreement", "hostile")

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


def total_of(words: str) -> str:
    """``total price``, but ``total`` rather than ``total total``."""
    return words if words.split()[-1:] == ["total"] or words.startswith("total") else f"total {words}"


def say(value) -> str:
    """A value as a question mentions it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2} 00:00:00", value):
        return value[:10]
    if isinstance(value, str) and (" " in value or not value):
        return f'"{value}"'
    return str(value)


_INVARIANT = {"people", "data", "news", "series", "species", "analysis", "information", "equipment", "media", "staff",
              "metadata", "feedback", "inventory", "software", "hardware", "stock"}


def singular(words: str) -> str:
    """The last word singular: ``invoice lines`` -> ``invoice line``, ``categories`` -> ``category``."""
    head, _, last = words.rpartition(" ")
    if last in _INVARIANT:
        return words
    if re.search(r"[^aeiou]ies$", last):
        last = last[:-3] + "y"
    elif re.search(r"(ss|x|z|ch|sh)es$", last) or re.search(r"(ses|uses)$", last) and not last.endswith("ases"):
        last = last[:-2]
    elif re.search(r"[^su]s$", last) and not re.search(r"(ss|is|us)$", last):
        last = last[:-1]
    return f"{head} {last}".strip()


def plural(words: str) -> str:
    """The last word plural (singular first, so a plural table name stays as it is)."""
    words = singular(words)
    if not words or words.rpartition(" ")[2] in _INVARIANT:
        return words
    if re.search(r"(s|x|z|ch|sh)$", words):
        return words + "es"
    if re.search(r"[^aeiou]y$", words):
        return words[:-1] + "ies"
    return words + "s"


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


# --- profiling a database --------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    name: str
    family: str
    not_null: bool
    is_key: bool
    unique: bool
    distinct: int = 0
    nulls: int = 0
    values: list = field(default_factory=list)   # sorted distinct non-null sample

    @property
    def words(self) -> str:
        return humanise(self.name)


@dataclass
class TableProfile:
    table: Table
    rows: int
    columns: dict            # name -> ColumnProfile
    label: Optional[str]     # the column that names a row
    pk: Optional[str]        # a single-column key for tie-breaking
    cats: list               # categorical columns
    nums: list               # numeric measures
    dates: list
    texts: list              # free text with words (LIKE)

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def words(self) -> str:
        """The table as a singular noun: ``order_items`` -> ``order item``."""
        return singular(humanise(self.table.name))


@dataclass
class Link:
    child: TableProfile
    fk_col: str
    parent: TableProfile
    pk_col: str


@dataclass
class DbProfile:
    tables: list
    links: list


# Columns that identify or contact rather than classify or measure.
_NOT_CATEGORIES = {"phone", "fax", "mobile", "email", "mail", "address", "street", "url", "website", "zip", "postal",
                   "postcode", "description", "comment", "comments", "notes", "password", "uuid", "hash", "token",
                   "name", "username", "title", "first", "last", "surname", "code", "id"}
_NOT_LABELS = {"password", "passwd", "hash", "salt", "token", "secret", "uuid", "guid"}
_NOT_MEASURES = {"id", "zip", "postal", "postcode", "phone", "code", "number", "no", "year"}
_LABEL_NAMES = ("name", "title", "full_name", "username", "label", "first_name", "last_name", "email", "description")


def profile_database(path: str, schema: Schema, sample: int = 40) -> DbProfile:
    """Column statistics of a built SQLite database: what the templates draw from."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = []
        by_name = {}
        for table in schema.ordered():
            q = ident(table.name)
            rows = conn.execute(f"SELECT COUNT(*) FROM {q}").fetchone()[0]
            key_cols = set(table.primary_key) | {c for fk in table.foreign_keys for c in fk.columns}
            unique_cols = {ks[0] for ks in table.key_sets() if len(ks) == 1}
            cols = {}
            for col in table.columns:
                c = ident(col.name)
                distinct, nulls = conn.execute(
                    f"SELECT COUNT(DISTINCT {c}), SUM({c} IS NULL) FROM {q}").fetchone()
                values = [r[0] for r in conn.execute(
                    f"SELECT DISTINCT {c} FROM {q} WHERE {c} IS NOT NULL ORDER BY {c} LIMIT {int(sample) * 5}")]
                if len(values) > sample:  # an even spread over the sorted values
                    step = len(values) / sample
                    values = [values[int(i * step)] for i in range(sample)]
                cols[col.name] = ColumnProfile(col.name, col.family, col.not_null,
                                               col.name in key_cols or col.autoincrement, col.name in unique_cols,
                                               distinct or 0, nulls or 0, values)
            tp = TableProfile(table, rows, cols, None, None, [], [], [], [])
            _roles(tp)
            tables.append(tp)
            by_name[table.name.lower()] = tp
        links = []
        for tp in tables:
            for fk in tp.table.foreign_keys:
                parent = by_name.get(fk.ref_table.lower())
                if parent is not None and len(fk.columns) == 1 and parent is not tp:
                    links.append(Link(tp, fk.columns[0], parent, fk.ref_columns[0]))
        return DbProfile(tables, links)
    finally:
        conn.close()


def _roles(tp: TableProfile) -> None:
    cols = list(tp.columns.values())
    pk = tp.table.primary_key
    tp.pk = pk[0] if len(pk) == 1 else None
    for c in cols:
        if c.is_key or c.distinct == 0:
            continue
        words = set(humanise(c.name).split())
        present = tp.rows - c.nulls
        if c.family in ("integer", "real", "decimal") and c.distinct >= 3 and not words & _NOT_MEASURES:
            tp.nums.append(c.name)
        elif c.family == "text" and 2 <= c.distinct <= max(12, tp.rows // 5) and present >= 2 * c.distinct \
                and not words & _NOT_CATEGORIES:
            tp.cats.append(c.name)
        elif c.family in ("date", "timestamp") and c.distinct >= 3:
            tp.dates.append(c.name)
        if c.family == "text" and c.distinct >= 3 and any(isinstance(v, str) and re.match(r"[A-Za-z]{2}", v)
                                                           for v in c.values):
            tp.texts.append(c.name)
    labels = [c for c in cols if c.family == "text" and not c.is_key and c.distinct > 1
              and not set(humanise(c.name).split()) & _NOT_LABELS]
    named = [c for c in labels if humanise(c.name).split()[-1:] and humanise(c.name).split()[-1] in
             ("name", "title", "username", "label", "email")]
    best = (named or labels)
    if best:
        best = sorted(best, key=lambda c: (-(c.not_null), -c.distinct, list(tp.columns).index(c.name)))
        tp.label = best[0].name
    elif tp.pk:
        tp.label = tp.pk


# --- templates --------------------------------------------------------------------------------------


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


class Phrase:
    """Question phrasings: one per style, picked with the database's seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def __call__(self, *options: str) -> str:
        text = self.rng.choice(options)
        return text[0].upper() + text[1:]


def _pick(rng: random.Random, values: list, default=None):
    return rng.choice(values) if values else default


def _threshold(values: list, rng: random.Random):
    """A number between the 30th and 70th percentile of a column: filters keep some rows."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) < 3:
        return None
    nums.sort()
    return nums[int(len(nums) * rng.uniform(0.3, 0.7))]


def _cat_value(tp: TableProfile, col: str, rng: random.Random):
    values = [v for v in tp.columns[col].values if isinstance(v, str) and v and "\n" not in v and len(v) <= 60]
    return _pick(rng, values)


def template_candidates(profile: DbProfile, rng: random.Random) -> dict:
    """Candidate queries by intended level, in a seeded order."""
    q = Phrase(rng)
    pools = {level: [] for level in LEVELS}

    def add(level, template_id, sql, question, asks_all=False):
        pools[level].append(Candidate(sql, question, template_id, asks_all=asks_all, intended=level))

    for tp in profile.tables:
        if tp.rows == 0:
            continue
        T, t = ident(tp.name), plural(tp.words)
        label = tp.label
        L = ident(label) if label else None
        lw = humanise(label) if label else ""
        # simple
        add("simple", "count_all", f"SELECT COUNT(*) FROM {T}",
            q(f"how many {t} are there?", f"count the {t}.", f"can you tell me the number of {t}?"))
        for cat in tp.cats[:3]:
            v = _cat_value(tp, cat, rng)
            if v is None:
                continue
            C, cw = ident(cat), humanise(cat)
            if L and label != cat:
                add("simple", "select_eq", f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)}",
                    q(f"what are the {plural(lw)} of {t} whose {cw} is {say(v)}?",
                      f"list the {lw} of every {tp.words} with {cw} {say(v)}.",
                      f"which {t} have {say(v)} as their {cw}? give their {plural(lw)}."))
            add("simple", "count_eq", f"SELECT COUNT(*) FROM {T} WHERE {C} = {sql_literal(v)}",
                q(f"how many {t} have {cw} {say(v)}?", f"count the {t} whose {cw} is {say(v)}.",
                  f"what is the number of {t} with a {cw} of {say(v)}?"))
            add("simple", "distinct", f"SELECT DISTINCT {C} FROM {T}",
                q(f"what are the different {plural(cw)} of {t}?", f"list the distinct {plural(cw)} used by {t}.",
                  f"which {plural(cw)} appear among the {t}?"), asks_all=True)
        for num in tp.nums[:3]:
            N, nw = ident(num), humanise(num)
            fn, fw = rng.choice([("MAX", "highest"), ("MIN", "lowest"), ("AVG", "average"), ("SUM", "total")])
            add("simple", "aggregate", f"SELECT {fn}({N}) FROM {T}",
                q(f"what is the {fw} {nw} of all {t}?", f"find the {fw} {nw} across {t}.",
                  f"what's the {fw} {nw} over the {t}?"))
            x = _threshold(tp.columns[num].values, rng)
            if x is not None and L and label != num:
                add("simple", "select_gt", f"SELECT {L} FROM {T} WHERE {N} > {sql_literal(x)}",
                    q(f"which {t} have a {nw} greater than {say(x)}? give their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} whose {nw} is above {say(x)}.",
                      f"what are the {plural(lw)} of the {t} with {nw} over {say(x)}?"))
        for date in tp.dates[:2]:
            D, dw = ident(date), humanise(date)
            values = tp.columns[date].values
            if len(values) >= 3 and L:
                d = values[int(len(values) * rng.uniform(0.5, 0.9))]
                add("simple", "date_after", f"SELECT {L} FROM {T} WHERE {D} >= {sql_literal(d)}",
                    q(f"which {t} have a {dw} on or after {say(d)}? list their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} with {dw} from {say(d)} onwards.",
                      f"what are the {plural(lw)} of {t} whose {dw} is no earlier than {say(d)}?"))
        # moderate
        if L and tp.pk:
            P = ident(tp.pk)
            for num in tp.nums[:2]:
                if not tp.columns[num].not_null:
                    continue
                N, nw = ident(num), humanise(num)
                k = rng.choice([3, 5])
                add("moderate", "top_k", f"SELECT {L}, {N} FROM {T} ORDER BY {N} DESC, {P} LIMIT {k}",
                    q(f"which {k} {t} have the highest {nw}? give their {lw} and {nw}.",
                      f"list the {lw} and {nw} of the top {k} {t} by {nw}.",
                      f"show me the {k} {t} with the largest {nw}, with their {lw}."))
                lo, hi = _threshold(tp.columns[num].values, rng), _threshold(tp.columns[num].values, rng)
                if lo is not None and hi is not None and lo != hi:
                    lo, hi = min(lo, hi), max(lo, hi)
                    add("moderate", "between_order",
                        f"SELECT {L}, {N} FROM {T} WHERE {N} BETWEEN {sql_literal(lo)} AND {sql_literal(hi)} "
                        f"ORDER BY {N} DESC, {P}",
                        q(f"list the {lw} and {nw} of {t} with {nw} between {say(lo)} and {say(hi)}, "
                          f"highest {nw} first.",
                          f"which {t} have a {nw} from {say(lo)} to {say(hi)}? order them by {nw}, descending.",
                          f"show the {t} whose {nw} lies between {say(lo)} and {say(hi)}, sorted by {nw} from "
                          f"high to low."))
        for cat in tp.cats[:2]:
            C, cw = ident(cat), humanise(cat)
            add("moderate", "group_count", f"SELECT {C}, COUNT(*) FROM {T} GROUP BY {C}",
                q(f"how many {t} are there for each {cw}?", f"count the {t} per {cw}.",
                  f"for every {cw}, what is the number of {t}?"), asks_all=True)
            for num in tp.nums[:2]:
                N, nw = ident(num), humanise(num)
                k = rng.choice([2, 3, 5])
                add("moderate", "group_avg_having",
                    f"SELECT {C}, AVG({N}) FROM {T} GROUP BY {C} HAVING COUNT(*) >= {k}",
                    q(f"for each {cw} with at least {k} {t}, what is the average {nw}?",
                      f"show the average {nw} per {cw}, only for {plural(cw)} shared by {k} or more {t}.",
                      f"what's the mean {nw} of {t} in each {cw} that has at least {k} of them?"))
                v = _cat_value(tp, cat, rng)
                x = _threshold(tp.columns[num].values, rng)
                if v is not None and x is not None and L and label not in (cat, num):
                    add("moderate", "and_filter",
                        f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)} AND {N} > {sql_literal(x)}",
                        q(f"which {t} have {cw} {say(v)} and a {nw} above {say(x)}? give their {plural(lw)}.",
                          f"list the {plural(lw)} of {t} whose {cw} is {say(v)} and whose {nw} exceeds {say(x)}.",
                          f"what are the {plural(lw)} of the {t} with {cw} {say(v)} and {nw} over {say(x)}?"))
            vals = [v for v in tp.columns[cat].values if isinstance(v, str) and len(v) <= 60]
            if len(vals) >= 2 and L and label != cat:
                v1, v2 = rng.sample(vals, 2)
                add("moderate", "or_filter",
                    f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v1)} OR {C} = {sql_literal(v2)}",
                    q(f"what are the {plural(lw)} of {t} whose {cw} is either {say(v1)} or {say(v2)}?",
                      f"list the {plural(lw)} of {t} with {cw} {say(v1)} or {say(v2)}.",
                      f"which {t} have {say(v1)} or {say(v2)} as {cw}? give their {plural(lw)}."))
        for text in tp.texts[:2]:
            words = [v for v in tp.columns[text].values if isinstance(v, str) and re.match(r"[A-Za-z]{2}", v)]
            if words and L:
                prefix = rng.choice(words)[:2]
                X, xw = ident(text), humanise(text)
                add("moderate", "like_prefix", f"SELECT {L} FROM {T} WHERE {X} LIKE {sql_literal(prefix + '%')}",
                    q(f"which {t} have a {xw} starting with {say(prefix)}? give their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} whose {xw} begins with {say(prefix)}.",
                      f"find the {t} whose {xw} starts with {say(prefix)} and show their {plural(lw)}."))
        # complex, single table
        for num in tp.nums[:2]:
            if not L or label == num:
                continue
            N, nw = ident(num), humanise(num)
            add("complex", "above_average", f"SELECT {L} FROM {T} WHERE {N} > (SELECT AVG({N}) FROM {T})",
                q(f"which {t} have a {nw} above the average {nw} of all {t}? give their {plural(lw)}.",
                  f"list the {plural(lw)} of {t} whose {nw} is higher than the average.",
                  f"what are the {plural(lw)} of the {t} with an above-average {nw}?"))
            for cat in tp.cats[:1]:
                C, cw = ident(cat), humanise(cat)
                x, y = _threshold(tp.columns[num].values, rng), _threshold(tp.columns[num].values, rng)
                if x is None or y is None or x == y:
                    continue
                op, word = rng.choice([("INTERSECT", "both"), ("EXCEPT", "but not"), ("UNION", "or")])
                sql = (f"SELECT {C} FROM {T} WHERE {N} > {sql_literal(max(x, y))} {op} "
                       f"SELECT {C} FROM {T} WHERE {N} < {sql_literal(min(x, y))}")
                if op == "INTERSECT":
                    question = q(f"which {plural(cw)} have both a {tp.words} with {nw} above {say(max(x, y))} and "
                                 f"one with {nw} below {say(min(x, y))}?",
                                 f"list the {plural(cw)} that include {t} with {nw} over {say(max(x, y))} as well as "
                                 f"{t} with {nw} under {say(min(x, y))}.",
                                 f"find {plural(cw)} having {t} priced both above {say(max(x, y))} and below "
                                 f"{say(min(x, y))} in {nw}.")
                elif op == "EXCEPT":
                    question = q(f"which {plural(cw)} have a {tp.words} with {nw} above {say(max(x, y))} but none "
                                 f"with {nw} below {say(min(x, y))}?",
                                 f"list the {plural(cw)} of {t} with {nw} over {say(max(x, y))}, leaving out "
                                 f"{plural(cw)} that also have {t} with {nw} under {say(min(x, y))}.",
                                 f"find the {plural(cw)} that appear for {t} with {nw} above {say(max(x, y))} but "
                                 f"never for {t} with {nw} below {say(min(x, y))}.")
                else:
                    question = q(f"which {plural(cw)} have a {tp.words} with {nw} above {say(max(x, y))} or one "
                                 f"with {nw} below {say(min(x, y))}?",
                                 f"list the distinct {plural(cw)} of {t} whose {nw} is over {say(max(x, y))} or "
                                 f"under {say(min(x, y))}.",
                                 f"find every {cw} with some {tp.words} whose {nw} is above {say(max(x, y))} or "
                                 f"below {say(min(x, y))}.")
                add("complex", f"set_{op.lower()}", sql, question)
        # highly complex, single table
        if L and tp.pk:
            P = ident(tp.pk)
            for num in tp.nums[:2]:
                if not tp.columns[num].not_null or label == num:
                    continue
                N, nw = ident(num), humanise(num)
                k = rng.choice([3, 5])
                add("highly complex", "window_rank",
                    f"SELECT {L}, {N} FROM (SELECT {L}, {N}, RANK() OVER (ORDER BY {N} DESC) AS rnk FROM {T}) "
                    f"AS ranked WHERE rnk <= {k}",
                    q(f"using a ranking by {nw}, which {t} rank in the top {k}? include ties and give their {lw} "
                      f"and {nw}.",
                      f"rank the {t} by {nw} from highest to lowest and list the {lw} and {nw} of those ranked "
                      f"{k} or better, ties included.",
                      f"which {t} are among the {k} highest-ranked by {nw} (ties share a rank)? show their {lw} and "
                      f"{nw}."))
                for cat in tp.cats[:2]:
                    if cat == label:
                        continue
                    C, cw = ident(cat), humanise(cat)
                    add("highly complex", "window_top_per_group",
                        f"SELECT {C}, {L}, {N} FROM (SELECT {C}, {L}, {N}, ROW_NUMBER() OVER (PARTITION BY {C} "
                        f"ORDER BY {N} DESC, {P}) AS rn FROM {T} WHERE {C} IS NOT NULL) AS ranked WHERE rn = 1",
                        q(f"for each {cw}, which {tp.words} has the highest {nw}? give the {cw}, its {lw} and {nw}.",
                          f"list, per {cw}, the {tp.words} with the largest {nw} (the first by id on ties), with "
                          f"its {lw} and {nw}.",
                          f"in every {cw}, find the top {tp.words} by {nw} and show its {lw} and {nw}."),
                        asks_all=True)
                    add("highly complex", "correlated_above_group_avg",
                        f"SELECT T1.{L}, T1.{C}, T1.{N} FROM {T} AS T1 WHERE T1.{N} > (SELECT AVG(T2.{N}) FROM "
                        f"{T} AS T2 WHERE T2.{C} = T1.{C})",
                        q(f"which {t} have a {nw} above the average {nw} of their own {cw}? give their {lw}, {cw} "
                          f"and {nw}.",
                          f"list the {t} whose {nw} beats the average for their {cw}, with {lw}, {cw} and {nw}.",
                          f"find {t} that are above their {cw}'s average {nw}; show {lw}, {cw} and {nw}."))
            for date in tp.dates[:1]:
                D, dw = ident(date), humanise(date)
                for num in tp.nums[:1]:
                    N, nw = ident(num), humanise(num)
                    add("highly complex", "per_year",
                        f"SELECT SUBSTR(CAST({D} AS TEXT), 1, 4) AS year, COUNT(*), SUM({N}) FROM {T} "
                        f"WHERE {D} IS NOT NULL GROUP BY year ORDER BY year",
                        q(f"for each year of {dw}, how many {t} are there and what is their {total_of(nw)}? order by "
                          f"year.",
                          f"count the {t} and sum their {nw} per year of {dw}, earliest year first.",
                          f"year by year (by {dw}), give the number of {t} and the sum of their {nw}."),
                        asks_all=True)
                    for cat in tp.cats[:1]:
                        C, cw = ident(cat), humanise(cat)
                        v = _cat_value(tp, cat, rng)
                        if v is None or not tp.columns[num].not_null or not tp.columns[date].not_null:
                            continue
                        add("highly complex", "running_total",
                            f"SELECT {D}, {N}, SUM({N}) OVER (ORDER BY {D}, {P}) AS running_total FROM {T} "
                            f"WHERE {C} = {sql_literal(v)} ORDER BY {D}, {P}",
                            q(f"for {t} with {cw} {say(v)}, list each {dw} and {nw} with the running total of "
                              f"{nw} in {dw} order.",
                              f"show the cumulative {nw} over time ({dw}) for {t} whose {cw} is {say(v)}.",
                              f"what is the running sum of {nw}, ordered by {dw}, of the {t} with {cw} {say(v)}?"))
    for link in profile.links:
        _link_templates(link, profile, rng, q, add)
    for level in LEVELS:
        rng.shuffle(pools[level])
    return pools


def _link_templates(link: Link, profile: DbProfile, rng: random.Random, q, add) -> None:
    child, parent = link.child, link.parent
    if child.rows == 0 or parent.rows == 0:
        return
    CT, PT = ident(child.name), ident(parent.name)
    FK, PK = ident(link.fk_col), ident(link.pk_col)
    ct, pt = plural(child.words), plural(parent.words)
    cl, pl = child.label, parent.label
    if not pl:
        return
    CL, PL = ident(cl or pl), ident(pl)
    clw, plw = humanise(cl or pl), humanise(pl)
    join = f"FROM {CT} AS T1 JOIN {PT} AS T2 ON T1.{FK} = T2.{PK}"
    # moderate: a join with a filter on the parent
    v = _cat_value(parent, pl, rng) if parent.columns[pl].family == "text" and cl else None
    if v is not None:
        same = singular(clw) == child.words  # city.city: "the cities of …", not "the cities of cities of …"
        if same:
            question = q(f"which {ct} belong to the {parent.words} {say(v)}?",
                         f"list the {ct} of the {parent.words} whose {plw} is {say(v)}.",
                         f"show me every {child.words} linked to {parent.words} {say(v)}.")
        else:
            question = q(f"what are the {plural(clw)} of the {ct} of the {parent.words} {say(v)}?",
                         f"list the {plural(clw)} of {ct} that belong to the {parent.words} whose {plw} is {say(v)}.",
                         f"show me the {clw} of every {child.words} linked to {parent.words} {say(v)}.")
        add("moderate", "join_filter", f"SELECT T1.{CL} {join} WHERE T2.{PL} = {sql_literal(v)}", question)
    for cat in parent.cats[:1] if cl else []:
        w = _cat_value(parent, cat, rng)
        if w is not None:
            C = ident(cat)
            add("complex", "in_subquery",
                f"SELECT {CL} FROM {CT} WHERE {FK} IN (SELECT {PK} FROM {PT} WHERE {C} = {sql_literal(w)})",
                q(f"which {ct} belong to {pt} whose {humanise(cat)} is {say(w)}? give their {plural(clw)}.",
                  f"list the {plural(clw)} of {ct} whose {parent.words} has {humanise(cat)} {say(w)}.",
                  f"find the {ct} of {pt} with {humanise(cat)} {say(w)} and show their {plural(clw)}."))
    # complex: group along the link, order, limit
    k = rng.choice([3, 5])
    add("complex", "join_group_top",
        f"SELECT T2.{PL}, COUNT(*) {join} GROUP BY T2.{PK}, T2.{PL} ORDER BY COUNT(*) DESC, T2.{PK} LIMIT {k}",
        q(f"which {k} {pt} have the most {ct}? give their {plw} and the number of {ct}.",
          f"list the top {k} {pt} by number of {ct}, with their {plw} and that number.",
          f"show me the {k} {pt} with the largest count of {ct}, along with their {plw}."))
    add("complex", "no_children",
        f"SELECT {PL} FROM {PT} WHERE {PK} NOT IN (SELECT {FK} FROM {CT} WHERE {FK} IS NOT NULL)",
        q(f"which {pt} have no {ct}? give their {plural(plw)}.",
          f"list the {plural(plw)} of {pt} without any {ct}.",
          f"what are the {plural(plw)} of the {pt} that no {child.words} refers to?"))
    for num in child.nums[:2]:
        N, nw = ident(num), humanise(num)
        x = _threshold(child.columns[num].values, rng)
        if x is None:
            continue
        total = x * rng.choice([2, 3, 5])
        total = round(total, 2) if isinstance(total, float) else total
        add("complex", "join_sum_having",
            f"SELECT T2.{PL}, SUM(T1.{N}) {join} GROUP BY T2.{PK}, T2.{PL} HAVING SUM(T1.{N}) > {sql_literal(total)}",
            q(f"which {pt} have {ct} whose {total_of(nw)} exceeds {say(total)}? give their {plw} and that total.",
              f"for each {parent.words} whose {ct} add up to more than {say(total)} in {nw}, list its {plw} and "
              f"the sum.",
              f"list {pt} with a summed {child.words} {nw} above {say(total)}, with {plw} and {total_of(nw)}."))
        add("highly complex", "cte_above_average",
            f"WITH totals AS (SELECT {FK} AS parent_id, SUM({N}) AS total FROM {CT} WHERE {FK} IS NOT NULL "
            f"GROUP BY {FK}) SELECT T2.{PL}, totals.total FROM totals JOIN {PT} AS T2 ON totals.parent_id = "
            # ROUND: SQLite sums decimals as floats, DuckDB exactly; equal totals must tie in both
            f"T2.{PK} WHERE totals.total > (SELECT AVG(total) FROM totals) "
            f"ORDER BY ROUND(totals.total, 4) DESC, T2.{PK}",
            q(f"which {pt} have a {total_of(child.words + ' ' + nw)} above the average total across {pt}? give their "
              f"{plw} and total, highest first.",
              f"compute each {parent.words}'s {total_of(nw)} over its {ct} and list those above the average total, "
              f"largest first, with their {plw}.",
              f"find the {pt} whose summed {nw} of {ct} beats the average of those sums; show {plw} and the "
              f"total, in descending order."))
    # highly complex: two hops (grandchild -> child -> parent)
    for up in profile.links:
        if up.child is not parent or up.parent is child or up.parent is parent or not up.parent.label:
            continue
        GT, GL, GK = ident(up.parent.name), ident(up.parent.label), ident(up.pk_col)
        k = rng.choice([3, 5])
        add("highly complex", "two_hop_group_top",
            f"SELECT T3.{GL}, COUNT(*) FROM {CT} AS T1 JOIN {PT} AS T2 ON T1.{FK} = T2.{PK} JOIN {GT} AS T3 ON "
            f"T2.{ident(up.fk_col)} = T3.{GK} GROUP BY T3.{GK}, T3.{GL} ORDER BY COUNT(*) DESC, T3.{GK} LIMIT {k}",
            q(f"which {k} {plural(up.parent.words)} have the most {ct} through their {pt}? give their "
              f"{humanise(up.parent.label)} and the count.",
              f"counting {ct} via {pt}, list the top {k} {plural(up.parent.words)} with their "
              f"{humanise(up.parent.label)} and number of {ct}.",
              f"show me the {k} {plural(up.parent.words)} linked to the most {ct} (through {pt}), with their "
              f"{humanise(up.parent.label)}."))
        break


# --- queries found in the repository ----------------------------------------------------------------


def repo_candidates(statements: list, dialect: str, schema: Schema, limit: int, borrowed: bool = False) -> list:
    """The repository's own SELECT/WITH statements and view bodies (and hostile statements, which
    run only in the sandbox and are never kept), translated to SQLite, schema prefixes removed.
    Queries borrowed from another file of the repository are kept only if they name a table of
    this database."""
    from sqlglot import exp

    from codecorpus.sql.ddl import SQLGLOT_DIALECT, Statement, hostile_kinds, quiet_sqlglot

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


# --- validation ---------------------------------------------------------------------------------------


@dataclass
class Checked:
    candidate: Candidate
    reason: Optional[str]                 # None when kept
    difficulty: str = ""
    template: str = ""
    rows: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    ordered: bool = False
    result_hash: str = ""
    engine_agreement: Optional[bool] = None
    seconds: float = 0.0                  # engine time spent on the candidate
    error: str = ""


class Validator:
    """Runs the checks of a candidate against one database in both sandboxes."""

    def __init__(self, sqlite_box: sb.SQLiteSandbox, duckdb_box: Optional[sb.DuckDBSandbox], table_rows: dict):
        self.sqlite = sqlite_box
        self.duckdb = duckdb_box
        self.table_rows = {k.lower(): v for k, v in table_rows.items()}
        self.kept_templates: set = set()
        self.max_seconds = 0.0
        self._parsed: dict = {}

    def parse(self, sql: str):
        """``parse_query`` of the last SQL text asked for, kept: the quota step and ``check`` parse
        the same candidate one after the other."""
        if sql not in self._parsed:
            try:
                self._parsed = {sql: parse_query(sql)}
            except ValueError as e:
                self._parsed = {sql: e}
        found = self._parsed[sql]
        if isinstance(found, ValueError):
            raise found
        return found

    def difficulty_of(self, sql: str) -> Optional[str]:
        try:
            ast = self.parse(sql)
        except ValueError:
            return None
        return hardness(ast) if is_query(ast) else None

    def check(self, cand: Candidate) -> Checked:
        from sqlglot import exp

        try:
            ast = self.parse(cand.sql)
        except ValueError as e:
            return Checked(cand, "parse_error", error=str(e))
        if not is_query(ast):
            return Checked(cand, "not_select", error=type(ast).__name__)
        if _NONDETERMINISTIC.search(cand.sql) or any(True for _ in ast.find_all(exp.Rand)):
            return Checked(cand, "nondeterministic")
        key = template_key(ast)
        out = Checked(cand, None, hardness(ast), key, ordered=top_level_ordered(ast))
        if key in self.kept_templates:
            out.reason = "duplicate_template"
            return out
        error = self.sqlite.explain(cand.sql)
        if error is not None:
            out.reason, out.error = ("denied" if error.startswith("denied") else "explain_error"), error
            return out
        result = self.sqlite.run(cand.sql)
        out.seconds += result.seconds
        self.max_seconds = max(self.max_seconds, result.seconds)
        if result.status != "ok":
            out.reason = {"timeout": "timeout", "denied": "denied", "too_many_rows": "too_many_rows",
                          "not_select": "not_select"}.get(result.status, "runtime_error")
            out.error = result.error
            return out
        out.rows, out.columns = result.rows, result.columns
        degenerate = self._degenerate(ast, result.rows, cand)
        if degenerate:
            out.reason = degenerate
            return out
        if self.duckdb is not None:
            try:
                duck_sql = ast.sql(dialect="duckdb")
            except Exception as e:  # noqa: BLE001 - sqlglot cannot write it: the engines cannot be compared
                out.reason, out.error = "duckdb_error", f"transpile: {e}"
                return out
            other = self.duckdb.run(duck_sql)
            out.seconds += other.seconds
            self.max_seconds = max(self.max_seconds, other.seconds)
            if other.status != "ok":
                out.reason = "duckdb_timeout" if other.status == "timeout" else "duckdb_error"
                out.error = other.error
                return out
            if not sb.results_equal(result.rows, other.rows, out.ordered):
                out.reason, out.engine_agreement = "engine_disagreement", False
                return out
            out.engine_agreement = True
        if cand.hostile:
            out.reason, out.error = "hostile", ",".join(cand.hostile)  # contained and counted, never kept
            return out
        out.result_hash = sb.result_hash(result.rows, out.ordered)
        self.kept_templates.add(key)
        return out

    def _degenerate(self, ast, rows: list, cand: Candidate) -> Optional[str]:
        from sqlglot import exp

        if not rows:
            return "empty_result"
        if all(v is None for r in rows for v in r):
            return "all_null"
        if cand.asks_all or len(rows) <= 1:
            return None
        root = ast.this if isinstance(ast, exp.Subquery) else ast
        if not isinstance(root, exp.Select):
            return None
        filtered = any(root.args.get(k) is not None for k in ("where", "having", "limit", "group")) or \
            root.args.get("distinct") is not None or any(True for _ in root.find_all(exp.AggFunc))
        if filtered:
            return None
        tables = {t.name.lower() for t in root.find_all(exp.Table)}
        if any(self.table_rows.get(t) == len(rows) for t in tables):
            return "whole_table"
        return None


def preview(rows: list, n: int = 5) -> str:
    return json.dumps([list(r) for r in rows[:n]], ensure_ascii=False, default=str)
