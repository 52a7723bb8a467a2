"""DDL statements -> the schema model: ``CREATE TABLE``, ``ALTER TABLE``, ``CREATE INDEX``, types.

``CREATE TABLE`` (plus ``ALTER TABLE … ADD CONSTRAINT`` and ``CREATE [UNIQUE] INDEX``) are parsed
with sqlglot into ``schema.Schema``: tables, typed columns, primary keys, unique sets and
foreign keys. Only the model is ever rendered back (``schema.render_ddl``), so ``CHARACTER SET``,
``COLLATE``, ``ON UPDATE``, ``ENGINE``, ``COMMENT``, storage and partition clauses, ``CHECK``
and computed expressions, non-literal ``DEFAULT``s are left out here. Schema prefixes are
stripped, ``SERIAL`` / ``IDENTITY`` / ``AUTO_INCREMENT`` become plain integer keys, ``ENUM``
becomes text with a ``CHECK (col IN (…))``, arrays / JSON / UUID / user-defined types become
text. What was dropped is counted (``notes``) rather than silently lost.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Optional

from codecorpus.sql.schema import Column, ForeignKey, Schema, Table, bare_name
from codecorpus.sql.statements import _HEAD_RE, SQLGLOT_DIALECT, Statement


_INT_TYPES = {"INT", "INTEGER", "SMALLINT", "TINYINT", "MEDIUMINT", "UINT", "USMALLINT", "UTINYINT", "UMEDIUMINT",
              "SERIAL", "SMALLSERIAL", "YEAR"}
_BIG_INT_TYPES = {"BIGINT", "UBIGINT", "BIGSERIAL", "INT128", "UINT128", "HUGEINT", "INT256", "UINT256"}
_SERIAL_TYPES = {"SERIAL", "SMALLSERIAL", "BIGSERIAL"}
_REAL_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_DECIMAL_TYPES = {"DECIMAL", "BIGDECIMAL", "UDECIMAL", "NUMERIC", "DECIMAL32", "DECIMAL64", "DECIMAL128",
                  "DECIMAL256"}
_TEXT_TYPES = {"CHAR", "NCHAR", "VARCHAR", "NVARCHAR", "TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYTEXT", "NAME",
               "BPCHAR", "CITEXT", "STRING", "CLOB", "NCLOB", "NTEXT"}
_UNBOUNDED_TEXT = {"TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYTEXT", "CLOB", "NCLOB", "NTEXT"}
_TEXTISH_TYPES = {"UUID", "UNIQUEIDENTIFIER", "JSON", "JSONB", "XML", "INET", "CIDR", "MACADDR", "SET", "ARRAY",
                  "INTERVAL", "HSTORE", "TSVECTOR", "GEOMETRY", "GEOGRAPHY", "VARIANT", "OBJECT", "STRUCT", "MAP",
                  "LIST", "IPADDRESS", "IPV4", "IPV6", "SUPER", "ROWVERSION", "SYSNAME", "USERDEFINED",
                  "UNKNOWN", "NULL"}
_DATE_TYPES = {"DATE", "DATE32"}
_TS_TYPES = {"DATETIME", "DATETIME2", "DATETIME64", "SMALLDATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
             "TIMESTAMPNTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIMEOFFSET"}
_TIME_TYPES = {"TIME", "TIMETZ"}
_BLOB_TYPES = {"BINARY", "VARBINARY", "BLOB", "MEDIUMBLOB", "LONGBLOB", "TINYBLOB", "IMAGE", "BYTEA", "RAW",
               "LONGVARBINARY"}


def _int_of(node) -> Optional[int]:
    try:
        return int(str(node.this.this if hasattr(node.this, "this") else node.this))
    except (TypeError, ValueError, AttributeError):
        try:
            return int(node.name)
        except (TypeError, ValueError, AttributeError):
            return None


def map_type(datatype, dialect: str, user_types: dict, column_name: str = "", is_key: bool = False) -> Column:
    """A sqlglot ``DataType`` -> a ``Column`` carrying the type family and its parameters."""
    from sqlglot import exp

    col = Column(column_name)
    if datatype is None:
        col.family, col.source_type = "text", ""
        return col
    col.source_type = datatype.sql(dialect=SQLGLOT_DIALECT[dialect]) if dialect in SQLGLOT_DIALECT else datatype.sql()
    name = datatype.this.name if hasattr(datatype.this, "name") else str(datatype.this)
    params = [_int_of(p) for p in datatype.expressions if isinstance(p, exp.DataTypeParam)]
    if name == "USERDEFINED":
        kind = datatype.args.get("kind")
        udt = bare_name(kind.sql() if kind is not None else "").lower()
        if udt in user_types:
            mapped = user_types[udt]
            return Column(column_name, mapped.family, mapped.length, mapped.precision, mapped.scale, mapped.big,
                          enum=mapped.enum, source_type=col.source_type)
    if name in _SERIAL_TYPES:
        col.family, col.autoincrement, col.big = "integer", True, name == "BIGSERIAL"
    elif name in _INT_TYPES:
        col.family = "integer"
    elif name in _BIG_INT_TYPES:
        col.family, col.big = "integer", True
    elif name == "BIT":
        if dialect in ("tsql", "mysql") and (not params or params[0] in (None, 1)):
            col.family = "boolean"
        else:
            col.family = "text"
    elif name == "BOOLEAN":
        col.family = "boolean"
    elif name in _REAL_TYPES:
        col.family = "real"
    elif name in ("MONEY", "SMALLMONEY"):
        col.family, col.precision, col.scale = "decimal", 19, 4
    elif name in _DECIMAL_TYPES:
        p = params[0] if params else None
        s = params[1] if len(params) > 1 else (0 if p is not None else None)
        if p is None:
            # Oracle NUMBER / unconstrained NUMERIC: integer keys, real measures.
            lname = column_name.lower()
            integer_like = is_key or lname == "id" or lname.endswith(("id", "_id", "_no", "number", "count"))
            col.family = "integer" if integer_like else "real"
            col.big = integer_like
            col.guessed = True
        elif s == 0:
            col.family, col.big = "integer", p > 9
        elif p > 38 or s is None or s > p:
            col.family = "real"
        else:
            col.family, col.precision, col.scale = "decimal", p, s
    elif name in _TEXT_TYPES:
        col.family = "text"
        if params and params[0] and name not in _UNBOUNDED_TEXT:
            col.length = params[0]
    elif name == "ENUM":
        values = tuple(str(e.this) for e in datatype.expressions if isinstance(e, exp.Literal))
        col.family, col.enum = "text", values or None
    elif name in _DATE_TYPES:
        col.family = "date"
    elif name in _TS_TYPES:
        col.family = "timestamp"
    elif name in _TIME_TYPES:
        col.family = "time"
    elif name in _BLOB_TYPES:
        col.family = "blob"
    elif name in _TEXTISH_TYPES:
        col.family = "text"
    else:
        col.family = "text"
    return col


_ENUM_TYPE_RE = re.compile(r"CREATE\s+TYPE\s+([\w.\"`\[\]]+)\s+AS\s+ENUM\s*\((.*)\)\s*$", re.I | re.S)
_DOMAIN_RE = re.compile(r"CREATE\s+DOMAIN\s+([\w.\"`\[\]]+)\s+(?:AS\s+)?(.+?)"
                        r"(?:\s+(?:DEFAULT|CONSTRAINT|CHECK|NOT\s+NULL|NULL|COLLATE)\b.*)?$", re.I | re.S)
_STR_LIT_RE = re.compile(r"'((?:[^']|'')*)'")


def _user_type(statement: Statement, dialect: str) -> Optional[tuple]:
    import sqlglot

    body = statement.text[_HEAD_RE.match(statement.text).end():]
    m = _ENUM_TYPE_RE.match(body)
    if m:
        values = tuple(v.replace("''", "'") for v in _STR_LIT_RE.findall(m.group(2)))
        return bare_name(m.group(1)).lower(), Column("", "text", enum=values or None, source_type="ENUM")
    m = _DOMAIN_RE.match(body)
    if m:
        try:
            cast = sqlglot.parse_one(f"CAST(NULL AS {m.group(2).strip()})", read=SQLGLOT_DIALECT.get(dialect))
            return bare_name(m.group(1)).lower(), map_type(cast.args.get("to"), dialect, {})
        except Exception:  # noqa: BLE001 - an unparseable domain is mapped to text
            return bare_name(m.group(1)).lower(), Column("", "text")
    return None


def quiet_sqlglot() -> None:
    """sqlglot logs a warning for every statement it falls back to parsing as a command."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _parse_one(text: str, dialect: str, fallback: bool = True):
    """sqlglot-parse one statement in its dialect, then the generic and the other dialects.
    Returns ``(expression, dialect used)`` or ``(None, error)``."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    quiet_sqlglot()
    error = "unparsed"
    tried = []
    for d in (dialect, "generic", "postgres", "mysql", "tsql", "oracle", "sqlite") if fallback else (dialect,):
        key = SQLGLOT_DIALECT[d]
        if key in tried:
            continue
        tried.append(key)
        try:
            parsed = sqlglot.parse(text, read=key)
        except (SqlglotError, ValueError, RecursionError, KeyError, AttributeError, TypeError) as e:
            error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            continue
        parsed = [p for p in parsed if p is not None]
        if len(parsed) == 1:
            return parsed[0], d
        error = f"{len(parsed)} statements"
    return None, error


def parse_schema(statements: list[Statement], dialect: str) -> Schema:
    """The tables of a file: ``CREATE TABLE`` with sqlglot, then ``ALTER TABLE … ADD`` keys and
    ``CREATE [UNIQUE] INDEX``; enum types and domains are resolved; partitions are left out."""
    schema = Schema()
    user_types: dict = {}
    partitions: set = set()
    for st in statements:
        if st.kind in ("create_type", "create_domain"):
            found = _user_type(st, dialect)
            if found:
                user_types[found[0]] = found[1]
        elif st.kind == "alter_table":
            m = re.search(r"\bATTACH\s+PARTITION\s+([\w.\"`\[\]]+)", st.text, re.I)
            if m:
                partitions.add(bare_name(m.group(1)).lower())
    for st in statements:
        if st.kind != "create_table":
            continue
        if re.search(r"\bPARTITION\s+OF\b", st.text, re.I) or re.search(r"\bAS\s+SELECT\b|\)\s*AS\s*\(?\s*SELECT\b|"
                                                                         r"\bLIKE\s+[\w.\"`\[\]]+\s*\)?\s*;?\s*$",
                                                                         st.text, re.I):
            schema.notes["skipped_table/partition_or_as_select"] += 1
            continue
        expr, used = _parse_one(st.text, dialect)
        if expr is None:
            expr, used = _salvage_create(st.text, dialect, schema.notes)
        if expr is None:
            schema.notes["unparsed/create_table"] += 1
            continue
        table = _table_from_create(expr, used, user_types, schema.notes)
        if table is None:
            schema.notes["unparsed/create_table"] += 1
            continue
        key = table.name.lower()
        if key in partitions:
            schema.notes["skipped_table/partition"] += 1
            continue
        if key in schema.tables:
            schema.notes["skipped_table/duplicate_name"] += 1
            continue
        schema.tables[key] = table
    for st in statements:
        if st.kind == "alter_table" and schema.tables:
            _apply_alter(st, dialect, schema)
        elif st.kind == "create_index" and schema.tables:
            _apply_index(st, dialect, schema)
    return schema


def _top_level_items(body: str) -> list:
    """Split a parenthesised column list at top-level commas (quotes and nesting respected)."""
    items, depth, start, i, n = [], 0, 0, 0, len(body)
    while i < n:
        ch = body[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = body.find(close, i + 1)
            i = n if j < 0 else j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
        i += 1
    items.append(body[start:])
    return [item.strip() for item in items if item.strip()]


def _salvage_create(text: str, dialect: str, notes: Counter):
    """A ``CREATE TABLE`` sqlglot cannot parse whole: parse it item by item and leave out the
    column definitions and constraints it cannot read (counted), so one exotic clause does not
    lose the table."""
    body = text[_HEAD_RE.match(text).end():]
    m = re.match(r"(CREATE\s+(?:[A-Z]+\s+)*?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.\"`\[\]$]+)\s*\(", body, re.I)
    if not m:
        return None, "no column list"
    inner = body[m.end():]
    depth, end = 1, None
    for item_end, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                end = item_end
                break
    if end is None:
        return None, "unbalanced parentheses"
    kept = []
    for item in _top_level_items(inner[:end]):
        expr, _ = _parse_one(f"CREATE TABLE t ({item})", dialect, fallback=False)
        if expr is None:
            notes["dropped/unparsed_column_or_constraint"] += 1
        else:
            kept.append(item)
    if not kept:
        return None, "no column could be parsed"
    return _parse_one(f"{m.group(1)} ({', '.join(kept)})", dialect, fallback=False)


def _ident(node) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Identifier):
        return node.this
    if isinstance(node, (exp.Column, exp.Ordered)):
        inner = node.this
        while isinstance(inner, (exp.Column, exp.Ordered)):
            inner = inner.this
        if isinstance(inner, exp.Identifier):
            return inner.this
        return inner.name if hasattr(inner, "name") else str(inner)
    return node.name


def _table_name(node) -> str:
    from sqlglot import exp

    table = node.find(exp.Table) if not isinstance(node, exp.Table) else node
    return table.name if table is not None else ""


def _column_list(node) -> tuple:
    from sqlglot import exp

    if node is None:
        return ()
    items = node.expressions if hasattr(node, "expressions") else []
    out = []
    for item in items:
        if isinstance(item, (exp.Identifier, exp.Column, exp.Ordered)):
            out.append(_ident(item))
        else:
            return ()  # an expression key (e.g. lower(col)): not a column set
    return tuple(out)


def _default_literal(node, notes: Counter):
    """A literal DEFAULT value, or ``(False, None)`` when the default is an expression."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast):
        node = node.this
    if isinstance(node, exp.Literal):
        if node.is_string:
            return True, node.this
        text = node.this
        try:
            return True, int(text)
        except ValueError:
            try:
                return True, float(text)
            except ValueError:
                return False, None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        ok, value = _default_literal(node.this, notes)
        return (ok, -value) if ok and isinstance(value, (int, float)) else (False, None)
    if isinstance(node, exp.Boolean):
        return True, bool(node.this)
    if isinstance(node, exp.Null):
        return True, None
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate)) or (
            isinstance(node, (exp.Anonymous, exp.Func)) and node.sql().upper().rstrip("()") in
            ("NOW", "GETDATE", "SYSDATE", "CURRENT_TIMESTAMP", "SYSDATETIME", "LOCALTIMESTAMP", "CURRENT_DATE")):
        return True, "CURRENT_TIMESTAMP"
    notes["dropped/default_expression"] += 1
    return False, None


def _table_from_create(expr, dialect: str, user_types: dict, notes: Counter) -> Optional[Table]:
    from sqlglot import exp

    if not isinstance(expr, exp.Create) or str(expr.args.get("kind", "")).upper() != "TABLE":
        return None
    schema_node = expr.this
    if not isinstance(schema_node, exp.Schema):
        return None  # CREATE TABLE x AS SELECT / LIKE: no column list
    table = Table(_table_name(schema_node.this))
    if not table.name:
        return None
    if schema_node.this.args.get("db") is not None:
        notes["dropped/schema_prefix"] += 1
    if expr.args.get("properties"):
        notes["dropped/table_options"] += 1
    inline_pk: list = []
    pk_keys: set = set()
    # primary-key columns first, so untyped NUMBER keys map to integers
    for item in schema_node.expressions:
        for pk in ([item] if isinstance(item, exp.PrimaryKey) else item.find_all(exp.PrimaryKey)):
            pk_keys.update(n.lower() for n in _column_list(pk))
    for item in schema_node.expressions:
        if isinstance(item, exp.ColumnDef):
            name = _ident(item.this)
            if table.column(name) is not None:
                notes["dropped/duplicate_column"] += 1
                continue
            fk_like = any(isinstance(c.args.get("kind"), exp.Reference) for c in item.constraints)
            col = map_type(item.args.get("kind"), dialect, user_types, name, is_key=name.lower() in pk_keys or fk_like)
            if col.source_type and col.family == "text" and not col.enum and not re.match(
                    r"(?i)(n?(var)?char|text|string|clob|nclob|ntext|varchar2|nvarchar2|citext|bpchar|enum|name|"
                    r"mediumtext|longtext|tinytext|character)", col.source_type):
                type_name = re.sub(r"[^A-Za-z0-9_]+", "_", col.source_type.split("(")[0]).strip("_").lower()
                notes["mapped_to_text/" + type_name] += 1
            for constraint in item.constraints:
                kind = constraint.args.get("kind")
                if isinstance(kind, exp.NotNullColumnConstraint):
                    col.not_null = not kind.args.get("allow_null")
                elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    inline_pk.append(name)
                elif isinstance(kind, exp.UniqueColumnConstraint):
                    table.uniques.append((name,))
                elif isinstance(kind, (exp.AutoIncrementColumnConstraint, exp.GeneratedAsIdentityColumnConstraint)):
                    computed = isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and \
                        kind.args.get("expression") is not None
                    if computed:
                        notes["dropped/computed_column"] += 1
                    else:
                        col.autoincrement = True
                elif isinstance(kind, exp.DefaultColumnConstraint):
                    value = kind.this
                    if isinstance(value, (exp.Anonymous, exp.Func)) and "nextval" in value.sql().lower():
                        col.autoincrement = True
                        continue
                    ok, literal = _default_literal(value, notes)
                    if ok:
                        col.has_default, col.default = True, literal
                elif isinstance(kind, exp.Reference):
                    ref_table = _table_name(kind.this)
                    ref_cols = _column_list(kind.this) if isinstance(kind.this, exp.Schema) else ()
                    table.foreign_keys.append(ForeignKey((name,), ref_table, ref_cols))
                elif isinstance(kind, exp.CheckColumnConstraint):
                    values = _in_list_check(kind.this, name)
                    if values and not col.enum:
                        col.enum = values  # CHECK (col IN ('a', 'b')): an enum in all but name
                    else:
                        notes["dropped/check"] += 1
                elif isinstance(kind, (exp.CharacterSetColumnConstraint, exp.CollateColumnConstraint)):
                    notes["dropped/charset_collate"] += 1
                elif isinstance(kind, exp.OnUpdateColumnConstraint):
                    notes["dropped/on_update"] += 1
                elif isinstance(kind, exp.ComputedColumnConstraint):
                    notes["dropped/computed_column"] += 1
                elif isinstance(kind, exp.CommentColumnConstraint):
                    notes["dropped/comment"] += 1  # from the DDL; kept in the model to name the column
                    col.comment = kind.this.name if isinstance(kind.this, exp.Literal) else ""
                else:
                    notes["dropped/column_option"] += 1
            if col.enum:
                notes["mapped/enum_check"] += 1
            table.columns.append(col)
        else:
            _table_constraint(item, table, notes)
    if inline_pk and not table.primary_key:
        table.primary_key = tuple(inline_pk)
    elif inline_pk:
        notes["dropped/second_primary_key"] += 1
    return table


def _in_list_column(node) -> Optional[str]:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and node.expressions and all(
            isinstance(e, exp.Literal) and e.is_string for e in node.expressions):
        return node.this.name
    return None


def _in_list_check(node, column: str) -> Optional[tuple]:
    """The allowed values of ``CHECK (column IN ('a', 'b', …))``, else None."""
    from sqlglot import exp

    if (_in_list_column(node) or "").lower() != column.lower():
        return None
    while isinstance(node, exp.Paren):
        node = node.this
    return tuple(e.this for e in node.expressions)


def _table_constraint(item, table: Table, notes: Counter) -> None:
    from sqlglot import exp

    nodes = item.expressions if isinstance(item, exp.Constraint) else [item]
    for i, node in enumerate(nodes):
        if isinstance(node, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)) and i + 1 < len(nodes) \
                and isinstance(nodes[i + 1], (exp.ClusteredColumnConstraint, exp.NonClusteredColumnConstraint)):
            # T-SQL: CONSTRAINT pk PRIMARY KEY CLUSTERED (col, ...) / UNIQUE NONCLUSTERED (...)
            ordered = nodes[i + 1].this if isinstance(nodes[i + 1].this, list) else nodes[i + 1].expressions
            cols = tuple(_ident(o) for o in ordered or [])
            if isinstance(node, exp.PrimaryKeyColumnConstraint) and cols and not table.primary_key:
                table.primary_key = cols
            elif cols and isinstance(node, exp.UniqueColumnConstraint):
                table.uniques.append(cols)
            else:
                notes["dropped/second_primary_key"] += 1
        elif isinstance(node, (exp.ClusteredColumnConstraint, exp.NonClusteredColumnConstraint)) and i > 0:
            continue
        elif isinstance(node, exp.PrimaryKey):
            cols = _column_list(node)
            if cols and not table.primary_key:
                table.primary_key = cols
            else:
                notes["dropped/second_primary_key"] += 1
        elif isinstance(node, exp.ForeignKey):
            ref = node.args.get("reference")
            if ref is None:
                notes["dropped/foreign_key"] += 1
                continue
            ref_schema = ref.this
            table.foreign_keys.append(ForeignKey(
                _column_list(node), _table_name(ref_schema),
                _column_list(ref_schema) if isinstance(ref_schema, exp.Schema) else ()))
        elif isinstance(node, exp.UniqueColumnConstraint):
            target = node.this
            cols = _column_list(target) if target is not None else ()
            if cols:
                table.uniques.append(cols)
                notes["lifted/named_unique_key"] += 1 if isinstance(target, exp.Schema) and target.this else 0
            else:
                notes["dropped/unique_expression"] += 1
        elif isinstance(node, exp.IndexColumnConstraint):
            cols = _column_list(node)
            if cols:
                name = node.this.name if node.this is not None else ""
                table.indexes.append((name, cols))
                notes["lifted/inline_index"] += 1
        elif isinstance(node, (exp.CheckColumnConstraint, exp.Check)):
            target = _in_list_column(node.this)
            col = table.column(target) if target else None
            if col is not None and not col.enum:
                col.enum = _in_list_check(node.this, col.name)
                notes["mapped/enum_check"] += 1
            else:
                notes["dropped/check"] += 1
        elif isinstance(node, exp.ColumnConstraint) and isinstance(node.args.get("kind"),
                                                                    exp.PrimaryKeyColumnConstraint):
            notes["dropped/primary_key_expression"] += 1
        else:
            notes["dropped/table_constraint"] += 1


def _apply_alter(st: Statement, dialect: str, schema: Schema) -> None:
    from sqlglot import exp

    identity = re.search(r"\bALTER\s+COLUMN\s+([\w\"`\[\]]+)\s+(?:ADD\s+GENERATED\b|SET\s+DEFAULT\s+nextval\b)",
                         st.text, re.I)
    if identity:
        table = schema.table(bare_name(re.match(r"\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?([\w.\"`\[\]]+)",
                                            st.text[_HEAD_RE.match(st.text).end():], re.I).group(1)))
        col = table.column(bare_name(identity.group(1))) if table is not None else None
        if col is not None and col.family == "integer":
            col.autoincrement = True
        return
    if not re.search(r"\bADD\s+(?:CONSTRAINT|PRIMARY|FOREIGN|UNIQUE)\b", st.text, re.I):
        return
    expr, _ = _parse_one(st.text, dialect)
    if not isinstance(expr, exp.Alter):
        schema.notes["unparsed/alter_table"] += 1
        return
    table = schema.table(_table_name(expr.this))
    if table is None:
        schema.notes["skipped/alter_unknown_table"] += 1
        return
    for action in expr.args.get("actions") or []:
        if isinstance(action, exp.AddConstraint):
            for item in action.expressions:
                _table_constraint(item, table, schema.notes)
        elif isinstance(action, exp.ColumnDef):
            schema.notes["skipped/alter_add_column"] += 1
        else:
            for item in action.find_all(exp.PrimaryKey, exp.ForeignKey, exp.Constraint):
                if isinstance(item, exp.Constraint):
                    _table_constraint(item, table, schema.notes)
                    break
            else:
                schema.notes["skipped/alter_action"] += 1


def _apply_index(st: Statement, dialect: str, schema: Schema) -> None:
    from sqlglot import exp

    expr, _ = _parse_one(st.text, dialect)
    if not isinstance(expr, exp.Create) or not isinstance(expr.this, exp.Index):
        schema.notes["unparsed/create_index"] += 1
        return
    index = expr.this
    table = schema.table(_table_name(index.args.get("table"))) if index.args.get("table") is not None else None
    if table is None:
        schema.notes["skipped/index_unknown_table"] += 1
        return
    params = index.args.get("params")
    cols = []
    for item in (params.args.get("columns") or []) if params is not None else []:
        inner = item.this if isinstance(item, exp.Ordered) else item
        if isinstance(inner, (exp.Column, exp.Identifier)):
            cols.append(_ident(inner))
        else:
            schema.notes["dropped/expression_index"] += 1
            return
    if not cols:
        return
    if expr.args.get("unique"):
        table.uniques.append(tuple(cols))
    else:
        table.indexes.append((index.name, tuple(cols)))
