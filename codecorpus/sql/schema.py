"""The schema model (tables, typed columns, keys, foreign keys), made runnable and rendered.

``finalise_schema`` resolves names and keys so that the model renders to DDL both SQLite and
DuckDB accept (or raises ``NotRunnable``); ``render_ddl`` writes that DDL per engine, so
everything dialect-only in the input disappears by construction; ``spider_schema`` is the model
in Spider's ``tables.json`` shape. What was dropped or changed is counted in ``Schema.notes``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from codecorpus.sql.naming import humanise


ENGINES = ("sqlite", "duckdb")


FAMILIES = ("integer", "real", "decimal", "text", "boolean", "date", "timestamp", "time", "blob")


@dataclass
class Column:
    name: str
    family: str = "text"
    length: Optional[int] = None         # VARCHAR(n)
    precision: Optional[int] = None      # DECIMAL(p, s)
    scale: Optional[int] = None
    big: bool = False                    # needs 64-bit integers
    not_null: bool = False
    default: object = None               # a literal (str, int, float, bool) or "CURRENT_TIMESTAMP"
    has_default: bool = False
    autoincrement: bool = False
    enum: Optional[tuple] = None         # allowed values of an ENUM column
    source_type: str = ""                # the type as written in the file
    guessed: bool = False                # an unconstrained NUMBER/NUMERIC: refined from the data
    comment: str = ""                    # the column's COMMENT in the DDL (names it in questions)

    def type_sql(self, engine: str) -> str:
        f = self.family
        if f == "integer":
            return "INTEGER" if engine == "sqlite" else ("BIGINT" if self.big else "INTEGER")
        if f == "real":
            return "REAL" if engine == "sqlite" else "DOUBLE"
        if f == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        if f == "text":
            return f"VARCHAR({self.length})" if self.length else "TEXT"
        return {"boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME", "blob": "BLOB"}[f]


@dataclass
class ForeignKey:
    columns: tuple
    ref_table: str
    ref_columns: tuple


@dataclass
class Table:
    name: str
    columns: list = field(default_factory=list)
    primary_key: tuple = ()
    uniques: list = field(default_factory=list)       # tuples of column names
    foreign_keys: list = field(default_factory=list)
    indexes: list = field(default_factory=list)       # (name, columns)

    def column(self, name: str) -> Optional[Column]:
        low = name.lower()
        for c in self.columns:
            if c.name.lower() == low:
                return c
        return None

    def key_sets(self) -> list:
        """Column sets whose values are unique: the primary key and every unique set."""
        sets = [self.primary_key] if self.primary_key else []
        return sets + [u for u in self.uniques if u and u != self.primary_key]


@dataclass
class Schema:
    tables: dict = field(default_factory=dict)        # lower-case name -> Table, in creation order
    notes: Counter = field(default_factory=Counter)   # what was dropped or changed, by kind

    def table(self, name: str) -> Optional[Table]:
        return self.tables.get(bare_name(name).lower())

    def ordered(self) -> list:
        return list(self.tables.values())


def bare_name(name: str) -> str:
    """``[dbo].[Album]`` / ``public.album`` / ``"Album"`` -> ``Album``."""
    name = name.strip()
    parts = re.findall(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|([^."`\[\]\s]+)', name)
    if not parts:
        return name
    last = parts[-1]
    return next(p for p in last if p).replace('""', '"').replace("``", "`")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class NotRunnable(ValueError):
    """A schema that cannot be turned into a runnable database; the message is the reason."""


def finalise_schema(schema: Schema) -> Schema:
    """Resolve names and keys so the model renders to DDL both engines accept: columns of keys
    must exist, foreign keys must point at a known table's primary key or unique set, foreign-key
    cycles are broken, tables are ordered parents first. Raises ``NotRunnable``."""
    notes = schema.notes
    for key in [k for k, t in schema.tables.items() if not t.columns]:
        notes["skipped_table/no_columns"] += 1
        del schema.tables[key]
    if not schema.tables:
        raise NotRunnable("no CREATE TABLE could be parsed")
    for table in schema.tables.values():
        fix = lambda cols, t=table: (  # noqa: E731 - the columns as the table spells them, or None
            tuple(t.column(c).name for c in cols) if all(t.column(c) for c in cols) else None)
        if table.primary_key:
            pk = fix(table.primary_key)
            if pk is None or len(set(c.lower() for c in pk)) != len(pk):
                notes["dropped/bad_primary_key"] += 1
                pk = ()
            table.primary_key = pk
        for name in table.primary_key:
            table.column(name).not_null = True
        uniques = []
        for u in table.uniques:
            fixed = fix(u)
            if fixed and fixed != table.primary_key and fixed not in uniques:
                uniques.append(fixed)
            elif not fixed:
                notes["dropped/bad_unique"] += 1
        table.uniques = uniques
        table.indexes = [(n, fix(c)) for n, c in table.indexes if fix(c)]
        for col in table.columns:
            if col.has_default:
                col.has_default, col.default = _fit_default(col)
            if col.autoincrement and (table.primary_key != (col.name,) or col.family != "integer"):
                if col.family != "integer":
                    col.autoincrement = False
                elif not table.primary_key:
                    table.primary_key = (col.name,)
                    col.not_null = True
                else:
                    col.autoincrement = False
    for table in schema.tables.values():
        kept = []
        for fk in table.foreign_keys:
            parent = schema.table(fk.ref_table)
            if parent is None:
                notes["dropped/fk_unknown_table"] += 1
                continue
            cols = tuple(table.column(c).name for c in fk.columns) if fk.columns and all(
                table.column(c) for c in fk.columns) else None
            ref_cols = fk.ref_columns or parent.primary_key
            ref_cols = tuple(parent.column(c).name for c in ref_cols) if ref_cols and all(
                parent.column(c) for c in ref_cols) else None
            if not cols or not ref_cols or len(cols) != len(ref_cols):
                notes["dropped/fk_bad_columns"] += 1
                continue
            if tuple(sorted(ref_cols)) not in [tuple(sorted(k)) for k in parent.key_sets()]:
                notes["dropped/fk_not_unique_target"] += 1
                continue
            if any(_family_group(table.column(a)) != _family_group(parent.column(b)) for a, b in zip(cols, ref_cols)):
                notes["dropped/fk_type_mismatch"] += 1
                continue
            candidate = ForeignKey(cols, parent.name, ref_cols)
            if candidate in kept:
                continue
            kept.append(candidate)
            for a, b in zip(cols, ref_cols):  # a key column takes its parent's exact type
                child_col, parent_col = table.column(a), parent.column(b)
                if (child_col.family, child_col.precision, child_col.scale) != (
                        parent_col.family, parent_col.precision, parent_col.scale):
                    notes["mapped/fk_type_to_parent"] += 1
                    child_col.family, child_col.precision, child_col.scale = (
                        parent_col.family, parent_col.precision, parent_col.scale)
                child_col.big = child_col.big or parent_col.big
        table.foreign_keys = kept
    _break_cycles_and_order(schema)
    return schema


def _fit_default(col: Column) -> tuple:
    """``(has_default, value)``: the literal default in the column's own type (``'0.00'`` for a
    decimal becomes 0.0, ``1`` for a boolean True), or no default when it does not fit the type."""
    value = col.default
    if value is None or value == "CURRENT_TIMESTAMP":
        return (True, value) if value is None or col.family in ("timestamp", "date", "time") else (False, None)
    f = col.family
    try:
        if f == "integer":
            return True, int(float(value)) if not isinstance(value, bool) else int(value)
        if f in ("real", "decimal"):
            return True, float(value)
        if f == "boolean":
            text = str(value).strip().lower()
            if text in ("1", "t", "true", "y", "yes", "on", "b'1'"):
                return True, True
            if text in ("0", "f", "false", "n", "no", "off", "b'0'"):
                return True, False
            return False, None
        if f == "text":
            value = str(value) if not isinstance(value, bool) else ("true" if value else "false")
            return (True, value) if not col.enum or value in col.enum else (False, None)
        return (True, str(value)) if isinstance(value, str) else (False, None)
    except (TypeError, ValueError):
        return False, None


def _family_group(col: Column) -> str:
    return "number" if col.family in ("integer", "decimal", "real") else col.family


def _break_cycles_and_order(schema: Schema) -> None:
    tables = schema.tables
    order: list = []
    state: dict = {}

    def visit(key: str) -> None:
        state[key] = "visiting"
        table = tables[key]
        kept = []
        for fk in table.foreign_keys:
            parent = fk.ref_table.lower()
            if parent == key:
                kept.append(fk)  # self reference: rows are inserted in waves
                continue
            if state.get(parent) == "visiting":
                schema.notes["dropped/fk_cycle"] += 1
                continue
            if parent not in state:
                visit(parent)
            kept.append(fk)
        table.foreign_keys = kept
        state[key] = "done"
        order.append(key)

    for key in list(tables):
        if key not in state:
            visit(key)
    schema.tables = {key: tables[key] for key in order}


def render_ddl(schema: Schema, engine: str) -> list:
    """``CREATE TABLE`` (parents first) and ``CREATE INDEX`` statements for ``engine``."""
    out = []
    index_names: set = set()
    for table in schema.tables.values():
        lines = []
        for col in table.columns:
            parts = [quote(col.name), col.type_sql(engine)]
            if col.not_null:
                parts.append("NOT NULL")
            if col.has_default:
                parts.append(f"DEFAULT ({_literal_sql(col.default)})")
            if col.enum:
                values = ", ".join(_literal_sql(v) for v in col.enum)
                parts.append(f"CHECK ({quote(col.name)} IN ({values}))")
            lines.append(" ".join(parts))
        if table.primary_key:
            lines.append(f"PRIMARY KEY ({', '.join(quote(c) for c in table.primary_key)})")
        for unique in table.uniques:
            lines.append(f"UNIQUE ({', '.join(quote(c) for c in unique)})")
        for fk in table.foreign_keys:
            lines.append(f"FOREIGN KEY ({', '.join(quote(c) for c in fk.columns)}) REFERENCES {quote(fk.ref_table)} "
                         f"({', '.join(quote(c) for c in fk.ref_columns)})")
        out.append(f"CREATE TABLE {quote(table.name)} (\n  " + ",\n  ".join(lines) + "\n)")
        for name, cols in table.indexes:
            base = name or f"idx_{table.name}_{'_'.join(cols)}"
            unique_name, k = base, 2
            while unique_name.lower() in index_names:
                unique_name, k = f"{base}_{k}", k + 1
            index_names.add(unique_name.lower())
            columns = ", ".join(quote(c) for c in cols)
            out.append(f"CREATE INDEX {quote(unique_name)} ON {quote(table.name)} ({columns})")
    return out


def _literal_sql(value) -> str:
    if value is None:
        return "NULL"
    if value == "CURRENT_TIMESTAMP":
        return "CURRENT_TIMESTAMP"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


_FINGERPRINT_FAMILY = {"integer": "number", "real": "number", "decimal": "number", "date": "time",
                       "timestamp": "time", "time": "time"}


def schema_fingerprint(schema: Schema) -> str:
    """What near-identical databases share (the Chinook schema in six dialects, one sample database
    vendored into many repositories): table and column names case-folded, types coarsened to
    number / text / time / boolean / blob (dialects map them differently), keys and foreign keys.
    Dialect-only details, column order and table order do not count."""
    import hashlib
    import json

    tables = []
    for table in schema.tables.values():
        cols = sorted([c.name.lower(), _FINGERPRINT_FAMILY.get(c.family, c.family)] for c in table.columns)
        fks = sorted([[c.lower() for c in fk.columns], fk.ref_table.lower()] for fk in table.foreign_keys)
        tables.append([table.name.lower(), cols, sorted(c.lower() for c in table.primary_key), fks])
    canonical = json.dumps(sorted(tables), separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


_SPIDER_TYPES = {"integer": "number", "real": "number", "decimal": "number", "boolean": "boolean", "date": "time",
                 "timestamp": "time", "time": "time", "blob": "others"}


def spider_schema(db_id: str, schema: Schema) -> dict:
    """The database in Spider's ``tables.json`` shape (REFERENCE §6)."""
    tables = schema.ordered()
    column_names = [[-1, "*"]]
    column_types = ["text"]
    index: dict = {}
    for t_idx, table in enumerate(tables):
        for col in table.columns:
            index[(table.name.lower(), col.name.lower())] = len(column_names)
            column_names.append([t_idx, col.name])
            column_types.append(_SPIDER_TYPES.get(col.family, "text"))
    primary = []
    for table in tables:
        if table.primary_key:
            ids = [index[(table.name.lower(), c.lower())] for c in table.primary_key]
            primary.append(ids[0] if len(ids) == 1 else ids)
    foreign = []
    for table in tables:
        for fk in table.foreign_keys:
            for a, b in zip(fk.columns, fk.ref_columns):
                foreign.append([index[(table.name.lower(), a.lower())], index[(fk.ref_table.lower(), b.lower())]])
    return {
        "db_id": db_id,
        "table_names_original": [t.name for t in tables],
        "table_names": [humanise(t.name) for t in tables],
        "column_names_original": column_names,
        "column_names": [[i, humanise(n) if i >= 0 else n] for i, n in column_names],
        "column_types": column_types,
        "primary_keys": primary,
        "foreign_keys": foreign,
    }
