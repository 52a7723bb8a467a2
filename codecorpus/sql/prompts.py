"""A ``sql_databases`` row as a text-to-SQL prompt shows it: SQL-PaLM's schema format.

SQL-PaLM (Sun et al., 2023) found that a concise schema works best for prompting: every table
with its columns, each column's type, the primary keys and the foreign keys spelled out as
``child : column equals parent : column``, and database content next to it (the model writes
better SQL when it sees what the values look like: ``'USA'`` or ``'United States'``, dates as
text, codes). Here the content is the first rows of every table.

Both parts are read back from what ``sql_databases`` stores, never from the input file: the
schema from ``ddl`` (parsed with sqlglot by ``ddl.parse_schema``, the types and keys as
``spider_schema`` names them), the rows from ``inserts`` (``inserts.read_insert``), so the prompt
shows the database the triple's SQL was checked on, and the same row always gives the same text.
"""

from __future__ import annotations

import re

from codecorpus.sql.ddl import parse_schema
from codecorpus.sql.inserts import literal, read_insert
from codecorpus.sql.schema import bare_name, spider_schema
from codecorpus.sql.statements import Statement, statement_kind


def _statements(texts: list, kind: str | None = None) -> list:
    return [Statement(text, kind or statement_kind(text), 1) for text in texts or () if text]


# the head of an ``inserts`` statement (``inserts.render_inserts``): its table, before the rows are read
_TABLE_OF_INSERT = re.compile(r'INSERT INTO ("(?:[^"]|"")*")')


def sample_rows(inserts: list, tables: list, n: int) -> dict:
    """The first ``n`` rows of each table (lower-case name -> rows as tuples), in the order the
    ``inserts`` hold them; a statement of a table that has its ``n`` rows already is not read."""
    wanted = {t.lower() for t in tables}
    rows: dict = {t: [] for t in wanted}
    if n <= 0:
        return rows
    for st in _statements(inserts, "insert"):
        if all(len(rows[t]) >= n for t in wanted):
            break
        head = _TABLE_OF_INSERT.match(st.text)
        if head and len(rows.get(bare_name(head.group(1)).lower(), ())) >= n:
            continue
        batch = read_insert(st, "sqlite")
        table = batch.table.lower()
        if table in wanted and len(rows[table]) < n:
            rows[table] += batch.rows[:n - len(rows[table])]
    return rows


_LINE_BREAKS = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _value(value, max_chars: int) -> str:
    """A value as an SQL literal, text cut to ``max_chars`` characters (a prompt shows what the
    values look like; a whole article in a TEXT column would crowd out the schema) and line
    breaks written as ``\\n`` (a table's rows stay on its one line)."""
    if isinstance(value, str):
        value = (value[:max_chars] + "..." if len(value) > max_chars else value).translate(_LINE_BREAKS)
    elif isinstance(value, bytes) and len(value) > max_chars // 2:
        return literal(value[:max_chars // 2])[:-1] + "...'"
    return literal(value)


def sql_palm_schema(ddl: list, inserts: list, rows: int, max_value_chars: int) -> str:
    """The database of a ``sql_databases`` row (its ``ddl`` and ``inserts``) in SQL-PaLM's
    concise format, with the first ``rows`` rows of every table that has any::

        [Schema]: | customers : id , name | orders : id , customer_id
        [Column names (type)]: customers : id (number) | customers : name (text) | ...
        [Primary Keys]: customers : id | orders : id
        [Foreign Keys]: orders : customer_id equals customers : id
        [Sample rows]:
        customers : (1, 'Ada') ; (2, 'Bob')
        orders : (1, 1)

    Raises ``ValueError`` when the DDL holds no table."""
    schema = parse_schema(_statements(ddl), "sqlite")
    if not schema.tables:
        raise ValueError("the database's ddl holds no CREATE TABLE")
    spider = spider_schema("", schema)
    tables = spider["table_names_original"]
    columns = spider["column_names_original"]
    of = lambda i: f"{tables[columns[i][0]]} : {columns[i][1]}"  # noqa: E731 - "table : column" of a column index
    lines = ["[Schema]: | " + " | ".join(
        f"{t} : " + " , ".join(name for ti, name in columns if ti == i) for i, t in enumerate(tables))]
    lines.append("[Column names (type)]: " + " | ".join(
        f"{of(i)} ({spider['column_types'][i]})" for i in range(1, len(columns))))
    keys = []
    for key in spider["primary_keys"]:
        ids = key if isinstance(key, list) else [key]
        keys.append(f"{tables[columns[ids[0]][0]]} : " + " , ".join(columns[i][1] for i in ids))
    lines.append(("[Primary Keys]: " + " | ".join(keys)).rstrip())
    lines.append(("[Foreign Keys]: " + " | ".join(f"{of(a)} equals {of(b)}" for a, b in spider["foreign_keys"])).rstrip())
    samples = sample_rows(inserts, tables, rows)
    shown = [f"{t} : " + " ; ".join("(" + ", ".join(_value(v, max_value_chars) for v in row) + ")"
                                    for row in samples[t.lower()])
             for t in tables if samples[t.lower()]]
    if shown:
        lines += ["[Sample rows]:"] + shown
    return "\n".join(lines)
